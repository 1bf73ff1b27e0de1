// A TLS-terminating proxy on 127.0.0.1 in front of secondaryd's plain-HTTP
// TCP API, the way the README says to expose that API. It exists because
// DNSimple's Node client speaks HTTPS only (its fetcher is `https.request`,
// which refuses an `http:` base URL): with it, the client runs exactly as a
// user would run it against api.dnsimple.com, with only its base URL changed.
// The certificate (tls/cert.pem, self-signed for IP 127.0.0.1) is trusted
// through NODE_EXTRA_CA_CERTS, so the client's code and options stay
// untouched; its key is public, in this repository, and good for nothing
// but these tests.
//
// Usage: node tls-proxy.js http://127.0.0.1:PORT
// Prints {"listening": <port>} once it accepts connections.
"use strict";

const fs = require("fs");
const http = require("http");
const https = require("https");
const path = require("path");

const upstream = new URL(process.argv[2] || "");
const loopback = /^127\.\d+\.\d+\.\d+$/.test(upstream.hostname) || upstream.hostname === "[::1]";
if (upstream.protocol !== "http:" || !loopback) {
  console.error(`the upstream must be an http:// URL on loopback, got ${process.argv[2]}`);
  process.exit(2);
}

const tls = path.join(__dirname, "tls");
const options = {
  key: fs.readFileSync(path.join(tls, "test-only-key.pem")),
  cert: fs.readFileSync(path.join(tls, "cert.pem")),
};

const server = https.createServer(options, (req, res) => {
  const forward = http.request(
    {
      host: upstream.hostname.replace(/^\[|\]$/g, ""),
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    },
    (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    },
  );
  forward.on("error", (e) => {
    res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: `Bad gateway: secondaryd did not answer: ${e.message}` }));
  });
  req.pipe(forward);
});

server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
// The test that started us may die without killing us: go when our stdin closes.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
