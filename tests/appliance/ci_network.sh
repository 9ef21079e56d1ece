#!/usr/bin/env bash
# A throw-away ziti-aio network for a CI job: start it, use it (here with curl), tear it down.
set -euo pipefail
env_file="$(mktemp -d)/ziti.env"

# Any free ports; returns once every role serves, printing the summary and the pid.
ziti-aio quickstart --detach --ci-env "$env_file" --ctrl-port 0 --router-port 0 --ctrl-address 127.0.0.1
. "$env_file"          # or read "$env_file.json" from any language

curl -sSf --cacert "$ZITI_CA_BUNDLE" "$ZITI_CLIENT_API/version"
echo
token=$(curl -sSf --cacert "$ZITI_CA_BUNDLE" -H 'Content-Type: application/json' \
  -d "{\"username\": \"$ZITI_USER\", \"password\": \"$ZITI_PASSWORD\"}" \
  "$ZITI_MANAGEMENT_API/authenticate?method=password" | grep -o '"token":"[^"]*"' | cut -d'"' -f4)
curl -sSf --cacert "$ZITI_CA_BUNDLE" -H "zt-session: $token" "$ZITI_MANAGEMENT_API/services"
echo
# $ZITI_CLIENT_IDENTITY may dial $ZITI_DEMO_SERVICE with any OpenZiti SDK.

kill "$ZITI_QUICKSTART_PID"
while kill -0 "$ZITI_QUICKSTART_PID" 2>/dev/null; do sleep 0.1; done
