"""An application-side SCIM client (PyPI scim2-client, with its scim2-models) driving the hub's
SCIM service: discovery, Users and Groups created, read, queried with filters and
attributes/excludedAttributes, replaced, patched (the enterprise extension URN as a path,
multi-valued emails), searched with POST .search, and deleted.

The client validates every answer against the schemas the hub publishes. Any deviation ends
the script with a non-zero status and a line on stderr saying what deviated; on success it
prints one JSON line with the ids it created, for the test to check the hub's side.

Environment: SCIM_BASE (the organization's SCIM base URL), SCIM_TOKEN, DOMAIN (verified).
"""

import json
import os
import sys
import traceback

import httpx2
from scim2_client import SCIMClientException
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    Error,
    ListResponse,
    PatchOp,
    PatchOperation,
    ResourceType,
    Schema,
    SCIMException,
    SearchRequest,
    ServiceProviderConfig,
)

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class Deviation(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Deviation(what)


def scim_error(call):
    """Runs `call`, which must fail with a SCIM error; returns it as an Error."""
    try:
        got = call()
    except SCIMException as exc:
        return exc.to_error()
    except SCIMClientException as exc:
        raise Deviation(f"expected a SCIM error, got a client exception: {exc!r}") from exc
    if isinstance(got, Error):
        return got
    raise Deviation(f"expected a SCIM error, got {got!r}")


def dump(resource):
    return resource.model_dump(mode="json", exclude_none=True, by_alias=True)


def main():
    base = os.environ["SCIM_BASE"]
    domain = os.environ.get("DOMAIN", "acme.test")
    http = httpx2.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {os.environ['SCIM_TOKEN']}"},
        timeout=30,
    )
    scim = SyncSCIMClient(http)

    # Discovery, then each document at its own address.
    scim.discover()
    config = scim.query(ServiceProviderConfig)
    check(config.patch.supported, "PATCH is supported")
    check(config.filter.supported, "filters are supported")
    check(config.etag.supported, "ETags are supported")
    check(not config.bulk.supported, "bulk is not supported")
    for rt_id, schema in (("User", USER), ("Group", GROUP)):
        rt = scim.query(ResourceType, rt_id)
        check(isinstance(rt, ResourceType) and rt.id == rt_id, f"ResourceType {rt_id}: {rt!r}")
        check(rt.schema_ == schema, f"ResourceType {rt_id} schema {rt.schema_!r}")
    for urn in (USER, GROUP, ENTERPRISE):
        s = scim.query(Schema, urn)
        check(isinstance(s, Schema) and s.id == urn, f"Schema {urn}: {s!r}")
    group_schema = scim.query(Schema, GROUP)
    members = next(a for a in group_schema.attributes if a.name == "members")
    subs = {a.name for a in members.sub_attributes}
    check({"value", "$ref", "type", "display"} <= subs, f"members sub-attributes {subs}")
    for path, status in (("/Me", 501), ("/Bulk", 501), ("/Nope", 404)):
        r = http.request("POST" if path == "/Bulk" else "GET", base + path)
        check(r.status_code == status, f"{path}: {r.status_code} {r.text}")
        check(r.headers["content-type"].startswith("application/scim+json"), f"{path} type")
        check(r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"], path)

    User = scim.get_resource_model("User")
    Group = scim.get_resource_model("Group")
    Enterprise = User.get_extension_model(ENTERPRISE) if hasattr(User, "get_extension_model") else None
    check(Enterprise is not None, "the User resource type carries the enterprise extension")

    # Create: multi-valued emails, names apart, the enterprise extension.
    alice = User.model_validate(
        {
            "schemas": [USER, ENTERPRISE],
            "userName": f"alice@{domain}",
            "displayName": "Alice A.",
            "name": {"formatted": "Ms Alice Acme", "givenName": "Alice", "familyName": "Acme"},
            "emails": [
                {"value": f"alice@{domain}", "type": "work", "primary": True},
                {"value": f"alice.home@{domain}", "type": "home"},
            ],
            "active": True,
            ENTERPRISE: {"department": "R&D", "employeeNumber": "7"},
        }
    )
    alice = scim.create(alice)
    check(alice.id, "the created user has an id")
    check(alice.display_name == "Alice A.", f"displayName {alice.display_name!r}")
    check(alice.name.formatted == "Ms Alice Acme", f"name.formatted {alice.name.formatted!r}")
    check(len(alice.emails) == 2, f"two emails kept: {alice.emails!r}")
    check([e.type for e in alice.emails] == ["work", "home"], "email types kept")
    check(alice[Enterprise].department == "R&D", "enterprise department kept")
    check(alice.meta.version, "a version (ETag)")

    # A person without an email (Entra and Okta always send userName, emails only usually).
    bob = scim.create(User(user_name="bob.builder", active=True))
    check(bob.id and not bob.emails, f"bob without email: {bob!r}")

    # Read with attributes / excludedAttributes, and query with a filter.
    got = scim.query(User, alice.id, {"excluded_attributes": ["emails", ENTERPRISE]})
    check(got.id == alice.id and got.emails is None, f"excludedAttributes: {got!r}")
    check(got[Enterprise] is None, "the extension is excluded")
    check(got.user_name == alice.user_name, "userName still returned")
    found = scim.query(
        User,
        SearchRequest(filter=f'userName eq "ALICE@{domain.upper()}"', attributes=["userName"]),
    )
    check(isinstance(found, ListResponse) and found.total_results == 1, f"filter: {found!r}")
    only = found.resources[0]
    check(only.id == alice.id and only.user_name == alice.user_name, "the filter found alice")
    check(only.display_name is None and only.emails is None, f"attributes=userName: {only!r}")
    found = scim.query(User, SearchRequest(filter='emails.value eq "alice.home@' + domain + '"'))
    check(found.total_results == 1, "found by a secondary email")

    # Replace.
    alice.display_name = "Alice Acme"
    alice = scim.replace(alice)
    check(alice.display_name == "Alice Acme", f"replaced: {alice.display_name!r}")
    check(alice.name.formatted == "Ms Alice Acme", "name.formatted untouched by displayName")

    # PATCH: the enterprise URN as a path, a new primary email, name.formatted.
    patch = PatchOp[User](
        operations=[
            PatchOperation[User](
                op=PatchOperation.Op.replace_, path=ENTERPRISE, value={"department": "Sales"}
            ),
            PatchOperation[User](
                op=PatchOperation.Op.add,
                path="emails",
                value=[{"value": f"a.acme@{domain}", "type": "other", "primary": True}],
            ),
            PatchOperation[User](
                op=PatchOperation.Op.replace_, path="name.formatted", value="Dr Alice Acme"
            ),
        ]
    )
    alice = scim.modify(User, alice.id, patch)
    check(alice[Enterprise].department == "Sales", f"extension patched: {dump(alice)}")
    check(alice[Enterprise].employee_number == "7", "other extension attributes kept")
    primaries = [e.value for e in alice.emails if e.primary]
    check(primaries == [f"a.acme@{domain}"], f"one primary, the new one: {alice.emails!r}")
    check(len(alice.emails) == 3, "the multi-valued add kept every email")
    check(alice.name.formatted == "Dr Alice Acme", "name.formatted patched")
    check(alice.display_name == "Alice Acme", "displayName untouched by name.formatted")
    patch = PatchOp[User](
        operations=[PatchOperation[User](op=PatchOperation.Op.remove, path=ENTERPRISE)]
    )
    alice = scim.modify(User, alice.id, patch)
    check(alice[Enterprise] is None, f"extension removed: {dump(alice)}")
    err = scim_error(
        lambda: scim.modify(
            User,
            alice.id,
            PatchOp[User](
                operations=[
                    PatchOperation[User](op=PatchOperation.Op.remove, path='emails[type eq "fax"]')
                ]
            ),
        )
    )
    check(err.scim_type == "noTarget", f"a filter matching nothing: {err!r}")

    # .search (POST) on a resource type.
    found = scim.search(User, SearchRequest(filter='userName sw "bob"', count=10))
    check(found.total_results == 1 and found.resources[0].id == bob.id, f".search: {found!r}")

    # Refusals: another company's name, a look-alike of alice.
    err = scim_error(lambda: scim.create(User(user_name="ceo@globex.test")))
    check(err.scim_type == "invalidValue" and err.status == 400, f"foreign userName: {err!r}")
    err = scim_error(lambda: scim.create(User(user_name=f"\u0430lice@{domain}")))
    check(err.scim_type == "uniqueness" and err.status == 409, f"look-alike: {err!r}")

    # Groups with members.
    group = scim.create(
        Group.model_validate(
            {
                "schemas": [GROUP],
                "displayName": "Engineering",
                "members": [{"value": alice.id}, {"value": bob.id}],
            }
        )
    )
    check(len(group.members) == 2, f"two members: {group!r}")
    check(all(m.type == "User" for m in group.members), "members carry their type")
    got = scim.query(Group, group.id, {"attributes": ["displayName"]})
    check(got.members is None and got.display_name == "Engineering", f"attributes: {got!r}")
    scim.modify(
        Group,
        group.id,
        PatchOp[Group](
            operations=[
                PatchOperation[Group](
                    op=PatchOperation.Op.remove, path=f'members[value eq "{bob.id}"]'
                ),
                PatchOperation[Group](
                    op=PatchOperation.Op.replace_, path="displayName", value="Platform"
                ),
            ]
        ),
    )
    group = scim.query(Group, group.id)
    check([m.value for m in group.members] == [alice.id], f"bob removed: {group!r}")
    check(group.display_name == "Platform", "renamed")
    found = scim.search(Group, SearchRequest(filter='displayName eq "platform"'))
    check(found.total_results == 1, f"group .search: {found!r}")

    # Delete.
    scim.delete(User, bob.id)
    err = scim_error(lambda: scim.query(User, bob.id))
    check(err.status == 404, f"a deleted user is gone: {err!r}")

    print(json.dumps({"ok": True, "alice": alice.id, "bob": bob.id, "group": group.id}))


if __name__ == "__main__":
    try:
        main()
    except Deviation as d:
        print(f"deviation: {d}", file=sys.stderr)
        sys.exit(1)
    except Exception:  # noqa: BLE001 - any other failure is a deviation too, with its trace
        traceback.print_exc()
        sys.exit(2)
