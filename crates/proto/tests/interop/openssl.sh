#!/usr/bin/env bash
# Independent implementation of the Qingdao envelope with the openssl CLI.
#
#   ./openssl.sh produce KEYDIR OUTDIR      write openssl-* fixtures
#   ./openssl.sh open PLATFORM_PRIVATE LOT_PUBLIC < form-body
#                                           verify + decrypt, print the plaintext
set -euo pipefail

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Base64 DER keys as PEM, which every openssl version reads.
pem() { # kind file
  { echo "-----BEGIN $1-----"; tr -d ' \r\n' <"$2" | fold -w 64; echo; echo "-----END $1-----"; } >"$tmp/$(basename "$2").pem"
  echo "$tmp/$(basename "$2").pem"
}

urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""), end="")'; }
urldecode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote_plus(sys.stdin.read().strip()), end="")'; }

seal() { # platform_public.pem lot_private.pem plaintext-file -> form body
  local k
  k=$(openssl pkey -pubin -in "$1" -noout -text | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p')
  split -b $((k / 8 - 11)) -d -a 4 "$3" "$tmp/chunk."
  : >"$tmp/ct.bin"
  for chunk in "$tmp"/chunk.*; do
    openssl pkeyutl -encrypt -pubin -inkey "$1" -pkeyopt rsa_padding_mode:pkcs1 -in "$chunk" >>"$tmp/ct.bin"
  done
  rm -f "$tmp"/chunk.*
  openssl base64 -A -in "$tmp/ct.bin" >"$tmp/cipher.txt"
  openssl dgst -sha1 -sign "$2" -out "$tmp/sig.bin" "$tmp/cipher.txt"
  printf 'accessID=234&cipher=%s&sign=%s\n' "$(urlencode <"$tmp/cipher.txt")" "$(openssl base64 -A -in "$tmp/sig.bin" | urlencode)"
}

open_form() { # platform_private.pem lot_public.pem < form
  local body field
  body=$(cat)
  field() { tr '&' '\n' <<<"$body" | sed -n "s/^$1=//p" | urldecode; }
  field cipher >"$tmp/cipher.txt"
  field sign | openssl base64 -d -A >"$tmp/sig.bin"
  openssl dgst -sha1 -verify "$2" -signature "$tmp/sig.bin" "$tmp/cipher.txt" >/dev/null
  openssl base64 -d -A -in "$tmp/cipher.txt" >"$tmp/ct.bin"
  local k
  k=$(openssl pkey -in "$1" -noout -text | sed -n 's/.*Private-Key: (\([0-9]*\) bit.*/\1/p')
  split -b $((k / 8)) -d -a 4 "$tmp/ct.bin" "$tmp/block."
  for block in "$tmp"/block.*; do
    openssl pkeyutl -decrypt -inkey "$1" -pkeyopt rsa_padding_mode:pkcs1 -in "$block"
  done
}

case "${1:-}" in
  produce)
    keys=$2 out=$3
    plat_pub=$(pem "PUBLIC KEY" "$keys/platform_public.b64")
    lot_priv=$(pem "PRIVATE KEY" "$keys/lot_private.b64")
    printf '%s' '{"data":{"uid":"100112021070108000013","arrivalID":"2","plateNo":"鲁BD12345","carType":1,"parkingCode":"1001","entryNum":"1","totalBerthNum":150,"openBerthNum":130,"freeBerthNum":69,"arriveTime":"2021-07-01 08:01:00","parkingType":1,"plateColor":5,"uploadTime":"2021-07-01 08:01:01"}}' >"$out/openssl-standard.json"
    seal "$plat_pub" "$lot_priv" "$out/openssl-standard.json" >"$out/openssl-standard.qingdao.form"
    ;;
  open)
    plat_priv=$(pem "PRIVATE KEY" "$2")
    lot_pub=$(pem "PUBLIC KEY" "$3")
    open_form "$plat_priv" "$lot_pub"
    ;;
  *)
    echo "usage: $0 produce KEYDIR OUTDIR | open PLATFORM_PRIVATE LOT_PUBLIC < form" >&2
    exit 2
    ;;
esac
