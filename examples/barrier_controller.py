#!/usr/bin/env python3
"""A barrier controller for the onepark lot gateway (docs/lot.md, "Barrier controllers").

Listens to one lane's orders (Server-Sent Events) and acknowledges each; replace
`move_barrier` with the relay's I/O. Standard library only.

    ONEPARK_GATEWAY=http://127.0.0.1:8081 ONEPARK_LANE=2 python3 barrier_controller.py

ONEPARK_TOKEN: the device's token when the gateway has [auth]. ONEPARK_ORDERS: a file to
append each order to (one JSON line), for logs and tests.
"""
import json
import os
import time
import urllib.request

GATEWAY = os.environ.get("ONEPARK_GATEWAY", "http://127.0.0.1:8081").rstrip("/")
LANE = os.environ.get("ONEPARK_LANE", "1")
TOKEN = os.environ.get("ONEPARK_TOKEN", "")
ORDERS = os.environ.get("ONEPARK_ORDERS", "")


def call(method, path, body=None):
    headers = {"content-type": "application/json"}
    if TOKEN:
        headers["authorization"] = "Bearer " + TOKEN
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(GATEWAY + path, method=method, data=data, headers=headers)
    return urllib.request.urlopen(request, timeout=None if method == "GET" else 10)


def move_barrier(order):
    """Drive the relay here; True when the barrier moved."""
    return True


def main():
    while True:
        try:
            for raw in call("GET", f"/api/lanes/{LANE}/commands"):
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue  # event names and keep-alive comments
                order = json.loads(line[len("data:"):])
                ok = move_barrier(order)
                call("POST", f"/api/lanes/{LANE}/commands/{order['id']}/ack", {"ok": ok, "msg": "" if ok else "道闸未动作"})
                if ORDERS:
                    with open(ORDERS, "a", encoding="utf-8") as f:
                        f.write(json.dumps(order, ensure_ascii=False) + "\n")
        except OSError:
            time.sleep(1)  # the gateway restarted or the network dropped: reconnect


if __name__ == "__main__":
    main()
