#!/usr/bin/env python3
"""Renders the hub's Helm chart without Helm (which these build machines cannot install) and
validates every manifest against the Kubernetes JSON schemas (PyPI kubernetes-validate).

It implements exactly the Go-template subset the chart uses - define/include, if/else/end,
.Values/.Release/.Chart lookups, and the functions quote, default, toYaml, indent, nindent,
trunc, trimSuffix - and fails on anything else, so a template construct it does not know
cannot pass unchecked.

usage: render_chart.py CHART_DIR [--values FILE] [--kube-version 1.37.0] [--print]
"""
import argparse
import pathlib
import re
import shlex
import sys

import yaml

TOKEN = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(Exception):
    pass


def tokenize(text):
    """Text and action tokens, with Go's whitespace trimming applied."""
    out, pos = [], 0
    for m in TOKEN.finditer(text):
        lit = text[pos:m.start()]
        if m.group(1):
            lit = lit.rstrip()
        out.append(("text", lit))
        out.append(("action", m.group(2)))
        pos = m.end()
        if m.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    out.append(("text", text[pos:]))
    return out


def parse(tokens, i=0, stop=()):
    """Nodes until an action in `stop`; returns (nodes, index, stopping action)."""
    nodes = []
    while i < len(tokens):
        kind, val = tokens[i]
        i += 1
        if kind == "text":
            if val:
                nodes.append(("text", val))
            continue
        word = val.split(None, 1)[0] if val else ""
        if word in stop:
            return nodes, i, val
        if word == "define":
            name = shlex.split(val)[1]
            body, i, _ = parse(tokens, i, ("end",))
            nodes.append(("define", name, body))
        elif word == "if":
            then, i, how = parse(tokens, i, ("else", "end"))
            other = []
            if how.startswith("else"):
                other, i, _ = parse(tokens, i, ("end",))
            nodes.append(("if", val[2:].strip(), then, other))
        elif word in ("end", "else", "range", "with", "template", "block"):
            raise TemplateError(f"unsupported or unbalanced action: {{{{ {val} }}}}")
        else:
            nodes.append(("expr", val))
    if stop:
        raise TemplateError(f"missing {{{{ end }}}} (looking for {stop})")
    return nodes, i, None


def to_yaml(v):
    if v is None:
        return "null"
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


class Renderer:
    def __init__(self, ctx):
        self.ctx = ctx
        self.defines = {}

    def lookup(self, path):
        cur = self.ctx
        for part in path.strip(".").split("."):
            if not isinstance(cur, dict) or part not in cur:
                raise TemplateError(f"no value {path}")
            cur = cur[part]
        return cur

    def term(self, word):
        if word == ".":
            return self.ctx
        if word.startswith("."):
            return self.lookup(word)
        if word.startswith('"'):
            return shlex.split(word)[0]
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        raise TemplateError(f"unsupported term {word!r}")

    def call(self, fn, args):
        if fn == "quote":
            return '"' + str(args[0]).replace('\\', '\\\\').replace('"', '\\"') + '"'
        if fn == "default":
            return args[1] if args[1] not in (None, "", [], {}, False) else args[0]
        if fn == "toYaml":
            return to_yaml(args[0])
        if fn in ("indent", "nindent"):
            pad = " " * int(args[0])
            text = "\n".join(pad + line if line else line for line in str(args[1]).split("\n"))
            return ("\n" + text) if fn == "nindent" else text
        if fn == "trunc":
            return str(args[1])[: int(args[0])]
        if fn == "trimSuffix":
            s = str(args[1])
            return s[: -len(args[0])] if args[0] and s.endswith(args[0]) else s
        if fn == "include":
            if args[0] not in self.defines:
                raise TemplateError(f"include of undefined template {args[0]!r}")
            return self.render(self.defines[args[0]])
        raise TemplateError(f"unsupported function {fn!r}")

    def pipeline(self, expr):
        value, first = None, True
        for stage in [s.strip() for s in expr.split("|")]:
            words = shlex.split(stage, posix=False)
            head, rest = words[0], words[1:]
            if first and (head.startswith(".") or head.startswith('"')) and not rest:
                value = self.term(head)
            else:
                args = [self.term(w) for w in rest]
                if not first:
                    args.append(value)
                value = self.call(head, args)
            first = False
        return value

    def render(self, nodes):
        out = []
        for n in nodes:
            if n[0] == "text":
                out.append(n[1])
            elif n[0] == "define":
                self.defines[n[1]] = n[2]
            elif n[0] == "if":
                v = self.pipeline(n[1])
                out.append(self.render(n[2] if v not in (None, "", [], {}, False, 0) else n[3]))
            else:
                v = self.pipeline(n[1])
                out.append("" if v is None else str(v))
        return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("chart")
    ap.add_argument("--values")
    ap.add_argument("--kube-version", default="1.37.0")
    ap.add_argument("--print", action="store_true")
    a = ap.parse_args()
    chart = pathlib.Path(a.chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    values = yaml.safe_load((chart / "values.yaml").read_text())
    if a.values:
        values.update(yaml.safe_load(pathlib.Path(a.values).read_text()) or {})
    ctx = {
        "Values": values,
        "Release": {"Name": "hub", "Namespace": "default", "Service": "Helm"},
        "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]},
    }
    r = Renderer(ctx)
    templates = sorted((chart / "templates").iterdir())
    for t in templates:
        if t.name.startswith("_"):
            r.render(parse(tokenize(t.read_text()))[0])
    import kubernetes_validate

    docs = 0
    for t in templates:
        if t.name.startswith("_"):
            continue
        text = r.render(parse(tokenize(t.read_text()))[0])
        if t.suffix == ".txt":
            continue
        for doc in yaml.safe_load_all(text):
            if doc is None:
                continue
            if a.print:
                print("---\n# " + t.name + "\n" + to_yaml(doc))
            kubernetes_validate.validate(doc, a.kube_version, strict=True)
            docs += 1
    print(f"helm chart {meta['name']} {meta['version']}: {docs} manifests render and validate against Kubernetes {a.kube_version}")


if __name__ == "__main__":
    try:
        main()
    except (TemplateError, yaml.YAMLError) as e:
        sys.exit(f"render_chart: {e}")
    except Exception as e:  # kubernetes_validate.ValidationError and friends
        sys.exit(f"render_chart: {type(e).__name__}: {e}")
