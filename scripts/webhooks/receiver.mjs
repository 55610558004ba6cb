// A webhook receiver as an integrator would write one in JavaScript: every request is verified with
// the Standard Webhooks library (npm `standardwebhooks`) against the secret in SECRET_FILE, read at
// each request, and a copy of the body with one byte changed must fail. One JSON line per request
// goes to standard output, after a first line with the port it listens on; the receiver answers 204
// when the signature verified, else 400.
//
//   node receiver.mjs SECRET_FILE
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const [secretFile] = process.argv.slice(2);

const server = createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const headers = {
      "webhook-id": request.headers["webhook-id"] ?? "",
      "webhook-timestamp": request.headers["webhook-timestamp"] ?? "",
      "webhook-signature": request.headers["webhook-signature"] ?? "",
    };
    const webhook = new Webhook(readFileSync(secretFile, "utf8").trim());
    const record = { id: headers["webhook-id"], signatures: headers["webhook-signature"].split(" ").length };
    try {
      const payload = webhook.verify(body, headers);
      record.verified = true;
      record.cursor = payload.data.cursor;
      record.type = payload.type;
    } catch (error) {
      record.verified = false;
      record.error = String(error);
    }
    try {
      webhook.verify(body.replace(/"cursor":(\d)/, '"cursor":9$1'), headers);
      record.tampered_rejected = false;
    } catch {
      record.tampered_rejected = true;
    }
    process.stdout.write(JSON.stringify(record) + "\n");
    response.writeHead(record.verified ? 204 : 400).end();
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ listening: server.address().port }) + "\n"));
