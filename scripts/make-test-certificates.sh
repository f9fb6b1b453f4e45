#!/usr/bin/env bash
# Makes the TLS fixtures of the tests (Tests/Fixtures/tls): a test CA, a server certificate
# for 127.0.0.1 / ::1 / localhost, and a client certificate (CN ci-runner), all signed by the
# CA and valid for 100 years. Test-only keys: never use them for a real daemon. The files are
# committed; run this again only to replace them (needs the openssl command).
set -euo pipefail
cd "$(dirname "$0")/../Tests/Fixtures/tls"
days=36500
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days \
    -subj "/CN=Labvisor test CA" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
issue() {  # issue NAME SUBJECT EXTENSIONS
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days $days -out "$1.pem" -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
issue server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth
basicConstraints=CA:FALSE"
issue client "/CN=ci-runner" "extendedKeyUsage=clientAuth
basicConstraints=CA:FALSE"
rm -f ca.srl
# A client certificate from another CA: must be refused where client_ca is the test CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days \
    -subj "/CN=stranger" -keyout stranger.key -out stranger.pem 2>/dev/null
