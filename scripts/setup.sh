#!/usr/bin/env bash
# Installs what the tests need beyond npm: Debian packages for the real-browser
# tests (chromium), the SAML interop tests (xmlsec1, the OneLogin python toolkit,
# pyca/cryptography for the xmlenc11#rsa-oaep decryption xmlsec1 1.2 lacks,
# Apache with mod_auth_mellon as a stock SAML SP) and the shared-session tests
# (redis-server). Idempotent; needs root (or sudo)
# only when something is missing.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v xmlsec1 >/dev/null 2>&1 || need+=(xmlsec1)
/usr/bin/python3 -c 'import onelogin.saml2' >/dev/null 2>&1 || need+=(python3-onelogin-saml2)
/usr/bin/python3 -c 'import cryptography.hazmat.primitives.ciphers.aead' >/dev/null 2>&1 || need+=(python3-cryptography)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
test -x /usr/sbin/apache2 || need+=(apache2)
test -e /usr/lib/apache2/modules/mod_auth_mellon.so || need+=(libapache2-mod-auth-mellon)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
