"""Webhooks as integrators receive them, checked with the Standard Webhooks libraries they would
use: a receiver in Python (PyPI `standardwebhooks`, in this process) and one in JavaScript (npm
`standardwebhooks`, receiver.mjs) each subscribe to the change feed of the running service; writes
follow; every delivery must verify with the library against the receiver's secret (also the old one
while a rotation overlaps), a tampered body must not, and each receiver must get every change of
the feed once, in cursor order.

Environment: BASE (the service), TOKEN (an admin token), WORK (a scratch folder), NODE_RECEIVER
(the path of receiver.mjs). Only loopback is reached.
"""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

BASE, TOKEN, WORK = os.environ["BASE"], os.environ["TOKEN"], os.environ["WORK"]
python_received = []


def call(method, path, body=None, if_match=None, content_type="application/json"):
    request = urllib.request.Request(BASE + path, method=method)
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if if_match:
        request.add_header("If-Match", if_match)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, data) as response:
            text = response.read()
            return response.status, response.headers, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        sys.exit(f"{method} {path} answered {error.code}: {error.read().decode()}")


class PythonReceiver(BaseHTTPRequestHandler):
    """What an integrator's Python endpoint does: verify with the secret it was given, or refuse."""

    secret = None

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        headers = {name: self.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        record = {"id": headers["webhook-id"], "signatures": len(headers["webhook-signature"].split(" "))}
        webhook = Webhook(PythonReceiver.secret)
        try:
            payload = webhook.verify(body, headers)
            record.update(verified=True, cursor=payload["data"]["cursor"], type=payload["type"])
        except WebhookVerificationError as error:
            record.update(verified=False, error=str(error))
        try:
            webhook.verify(body.replace(b'"id":', b'"id":1', 1), headers)
            record["tampered_rejected"] = False
        except WebhookVerificationError:
            record["tampered_rejected"] = True
        python_received.append(record)
        self.send_response(204 if record["verified"] else 400)
        self.end_headers()

    def log_message(self, *args):
        pass


def wait_for(count, *receivers):
    deadline = time.time() + 30
    while time.time() < deadline and any(len(received) < count for received in receivers):
        time.sleep(0.1)


def kpi_rename(kpi, name):
    _, headers, _ = call("GET", f"/api/v1/kpis/{kpi}")
    call("PATCH", f"/api/v1/kpis/{kpi}", {"name": name}, headers["ETag"], "application/merge-patch+json")


def main():
    python_server = ThreadingHTTPServer(("127.0.0.1", 0), PythonReceiver)
    threading.Thread(target=python_server.serve_forever, daemon=True).start()
    node_secret = os.path.join(WORK, "node-secret")
    with open(node_secret, "w") as file:
        file.write("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    node = subprocess.Popen(
        ["node", os.environ["NODE_RECEIVER"], node_secret],
        stdout=subprocess.PIPE,
        text=True,
    )
    node_received = []
    node_port = json.loads(node.stdout.readline())["listening"]
    threading.Thread(target=lambda: [node_received.append(json.loads(line)) for line in node.stdout], daemon=True).start()
    try:
        _, _, feed = call("GET", "/api/v1/changes")
        start = feed["latest_cursor"]
        _, _, python_hook = call("POST", "/api/v1/webhooks", {"url": f"http://127.0.0.1:{python_server.server_address[1]}/hook", "description": "Python standardwebhooks"})
        PythonReceiver.secret = python_hook["secret"]
        _, _, node_hook = call("POST", "/api/v1/webhooks", {"url": f"http://127.0.0.1:{node_port}/hook", "description": "JavaScript standardwebhooks"})
        with open(node_secret, "w") as file:
            file.write(node_hook["secret"])
        for round in (1, 2):
            kpi_rename(round, f"署名の確認 {round}")
        call("PUT", "/api/v1/kpis/3/results/2023", {"value": "7", "note": "受信の確認"})
        # What was written before the rotations is signed with the secrets of then: let it arrive first.
        wait_for(3, python_received, node_received)
        # The Python receiver keeps its old secret: during the overlap the old signature still verifies.
        _, headers, _ = call("GET", f"/api/v1/webhooks/{python_hook['id']}")
        call("POST", f"/api/v1/webhooks/{python_hook['id']}/secret?previous_valid_secs=600", None, headers["ETag"])
        # The JavaScript receiver takes the new secret at once.
        _, headers, _ = call("GET", f"/api/v1/webhooks/{node_hook['id']}")
        _, _, rotated = call("POST", f"/api/v1/webhooks/{node_hook['id']}/secret?previous_valid_secs=0", None, headers["ETag"])
        with open(node_secret, "w") as file:
            file.write(rotated["secret"])
        kpi_rename(3, "鍵の更新後")
        _, headers, _ = call("GET", "/api/v1/kpis/3/results/2023")
        call("DELETE", "/api/v1/kpis/3/results/2023", None, headers["ETag"])
        _, _, feed = call("GET", f"/api/v1/changes?since={start}")
        expected = [item["cursor"] for item in feed["items"]]
        assert len(expected) == 5, feed
        wait_for(5, python_received, node_received)
        time.sleep(0.5)
        for name, received in (("python", python_received), ("javascript", node_received)):
            failures = [record for record in received if not record["verified"] or not record["tampered_rejected"]]
            assert not failures, f"{name}: {failures}"
            cursors = [record["cursor"] for record in received]
            assert cursors == expected, f"{name}: received {cursors}, the feed has {expected}"
            types = [record["type"] for record in received]
            assert types == ["kpi.updated", "kpi.updated", "kpi_result.created", "kpi.updated", "kpi_result.deleted"], f"{name}: {types}"
            assert len({record["id"] for record in received}) == 5, f"{name}: webhook-ids repeat"
        assert [record["signatures"] for record in python_received][-2:] == [2, 2], python_received
        assert [record["signatures"] for record in node_received][-2:] == [1, 1], node_received
        print(f"webhook-receivers: {len(python_received)} deliveries verified by standardwebhooks (PyPI) and "
              f"{len(node_received)} by standardwebhooks (npm), in cursor order; tampered bodies refused")
    finally:
        node.terminate()
        python_server.shutdown()


main()
