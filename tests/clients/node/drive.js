// Drives secondaryd with DNSimple's official Node client (`dnsimple` on npm,
// the version pinned in package-lock.json), configured as for
// api.dnsimple.com except for its base URL: every seed endpoint the client
// has, called the way the client calls it. Each call prints one JSON line,
// {"step", "result"} or {"step", "error": {class, status, message, errors}},
// and tests/official_client.rs asserts on them; this script judges nothing.
//
// Environment: DNSIMPLE_BASE_URL (https://127.0.0.1:PORT, the daemon's HTTPS API),
// DNSIMPLE_TOKEN, and for the `seed` scenario PRIMARY_PORT (a DNS primary on
// 127.0.0.1 serving SERVED_ZONE) and SERVED_ZONE.
//
// Usage: node drive.js seed
//        node drive.js distribution ZONE
"use strict";

const { DNSimple } = require("dnsimple");
const { SecondaryDns } = require("dnsimple/dist/lib/secondary_dns");

const baseUrl = need("DNSIMPLE_BASE_URL");
const client = new DNSimple({ baseUrl, accessToken: need("DNSIMPLE_TOKEN") });
// dnsimple 7.4.0 ships the secondary-DNS calls (dist/lib/secondary_dns.js)
// but its DNSimple class does not attach them as it does `zones` or
// `domains`; a user builds the service the way that constructor builds the
// others, `new Service(client)`. Its calls stay the package's own code.
const secondaryDns = client.secondaryDns || new SecondaryDns(client);

function need(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return value;
}

function print(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

// Runs one call; prints and returns its result (undefined when it failed).
async function step(name, call) {
  try {
    const result = await call();
    print({ step: name, result });
    return result;
  } catch (e) {
    const data = e.data || {};
    print({
      step: name,
      error: {
        class: e.constructor.name,
        status: e.status === undefined ? null : e.status,
        message: data.message === undefined ? String(e.message) : data.message,
        errors: typeof e.attributeErrors === "function" ? e.attributeErrors() || null : null,
        code: e.code || null,
      },
    });
    return undefined;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function seed() {
  const primaryPort = need("PRIMARY_PORT");
  const served = need("SERVED_ZONE");
  const lonely = "lonely.example";

  const who = await step("whoami", () => client.identity.whoami());
  const account = who && who.data.account && who.data.account.id;
  const stranger = new DNSimple({ baseUrl, accessToken: "not-a-token-of-this-daemon" });
  await step("whoami with an unknown token", () => stranger.identity.whoami());

  // The client's TypeScript types declare `port` a string; plain JS users pass a number.
  const one = await step("create primary one", () =>
    secondaryDns.createPrimaryServer(account, { name: "Primary One", ip: "127.0.0.1", port: primaryPort }),
  );
  const two = await step("create primary two", () =>
    secondaryDns.createPrimaryServer(account, { name: "Primary Two", ip: "127.0.0.2", port: 5399 }),
  );
  await step("create primary with a bad ip", () =>
    secondaryDns.createPrimaryServer(account, { name: "Broken", ip: "not-an-address" }),
  );
  const id1 = one && one.data.id;
  const id2 = two && two.data.id;
  await step("list primaries by name desc", () => secondaryDns.listPrimaryServers(account, { sort: "name:desc" }));
  await step("collect all primaries one per page", () =>
    secondaryDns.listPrimaryServers.collectAll(account, { per_page: 1 }),
  );
  await step("get primary two", () => secondaryDns.getPrimaryServer(account, id2));
  await step("get a missing primary", () => secondaryDns.getPrimaryServer(account, 999999));

  await step("create served zone", () => secondaryDns.createSecondaryZone(account, { name: served }));
  await step("create lonely zone", () => secondaryDns.createSecondaryZone(account, { name: lonely }));
  await step("create lonely zone again", () => secondaryDns.createSecondaryZone(account, { name: lonely }));

  await step("link primary one to served zone", () =>
    secondaryDns.linkPrimaryServer(account, id1, { zone: served }),
  );
  await step("link primary two to lonely zone", () =>
    secondaryDns.linkPrimaryServer(account, id2, { zone: lonely }),
  );
  await step("link without a zone", () => secondaryDns.linkPrimaryServer(account, id1));
  await step("link to a missing zone", () =>
    secondaryDns.linkPrimaryServer(account, id1, { zone: "missing.example" }),
  );
  await step("unlink primary two from lonely zone", () =>
    secondaryDns.unlinkPrimaryServer(account, id2, { zone: lonely }),
  );
  await step("unlink again", () => secondaryDns.unlinkPrimaryServer(account, id2, { zone: lonely }));

  await step("get served zone", () => client.zones.getZone(account, served));
  await step("list zones by name", () => client.zones.listZones(account, { sort: "name:asc" }));
  await step("list zones like lonely", () => client.zones.listZones(account, { name_like: "lonely" }));
  await step("get a missing zone", () => client.zones.getZone(account, "missing.example"));

  // The link started the first transfer; wait for it (20 s at most).
  let transferred;
  for (let i = 0; i < 200 && !transferred; i++) {
    const zone = await client.zones.getZone(account, served).catch(() => undefined);
    if (zone && zone.data.last_transferred_at) {
      transferred = zone;
    } else {
      await sleep(100);
    }
  }
  print({ step: "served zone transferred", result: transferred || null });

  await step("distribution of served zone", () => client.zones.checkZoneDistribution(account, served));
  await step("distribution of lonely zone", () => client.zones.checkZoneDistribution(account, lonely));
  await step("distribution of a missing zone", () => client.zones.checkZoneDistribution(account, "missing.example"));

  await step("update served zone ns records", () =>
    client.zones.updateZoneNsRecords(account, served, { ns_names: ["ns1.provider.test", "ns2.provider.test"] }),
  );
  await step("update ns records with a bad name", () =>
    client.zones.updateZoneNsRecords(account, served, { ns_names: ["not a host name"] }),
  );
  await step("list served zone ns records", () => client.zones.listZoneRecords(account, served, { type: "NS" }));
  await step("served zone file", () => client.zones.getZoneFile(account, served));

  await step("remove primary two", () => secondaryDns.removePrimaryServer(account, id2));
  await step("get removed primary two", () => secondaryDns.getPrimaryServer(account, id2));
  await step("delete lonely zone", () => client.domains.deleteDomain(account, lonely));
  await step("get deleted lonely zone", () => client.zones.getZone(account, lonely));
  await step("list zones at the end", () => client.zones.listZones(account));
}

async function distribution(zone) {
  const who = await step("whoami", () => client.identity.whoami());
  const account = who && who.data.account && who.data.account.id;
  await step("distribution", () => client.zones.checkZoneDistribution(account, zone));
}

async function main() {
  const [scenario, arg] = process.argv.slice(2);
  if (scenario === "seed") {
    await seed();
  } else if (scenario === "distribution" && arg) {
    await distribution(arg);
  } else {
    console.error("usage: node drive.js seed | node drive.js distribution ZONE");
    process.exit(2);
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
