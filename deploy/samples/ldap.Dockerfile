# A sample company directory: OpenLDAP with syncprov (syncrepl), ppolicy and memberof, three
# people and a group, started by the same script the tests use.
FROM debian:bookworm-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN echo "slapd slapd/no_configuration boolean true" | debconf-set-selections \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd ldap-utils \
 && rm -rf /var/lib/apt/lists/*
COPY tests/peers/slapd-start.sh /usr/local/bin/slapd-start.sh
COPY deploy/samples/people.ldif /etc/sample/people.ldif
EXPOSE 3890
ENV SLAPD_MEMBEROF=1
CMD ["sh", "-c", "SLAPD_CONFIG_ONLY=1 slapd-start.sh /var/lib/sample 3890 dc=example,dc=com && slapadd -q -f /var/lib/sample/slapd.conf -l /etc/sample/people.ldif && sed -i 's|ldap://127.0.0.1|ldap://0.0.0.0|' /usr/local/bin/slapd-start.sh && slapd -d 0 -f /var/lib/sample/slapd.conf -h ldap://0.0.0.0:3890/"]
