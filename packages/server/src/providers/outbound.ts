import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";
import { MeshauthError } from "@meshauth/core";
import { Agent, fetch as undiciFetch } from "undici";

/**
 * Where the hub may send webhook calls and key-set fetches. In production it refuses
 * loopback, link-local (the cloud metadata services at 169.254.169.254 and
 * fd00:ec2::254 in every spelling the URL parser accepts, including IPv4-mapped and
 * NAT64 IPv6), unspecified, multicast and broadcast addresses, cloud metadata host
 * names, and the hub itself. Private networks (10/8, 192.168/16, fc00::/7) stay
 * allowed: an app's auth service often lives next to the hub.
 */
export interface OutboundPolicy {
  /** Allow every target (development mode, or MESHAUTH_ALLOW_PRIVATE_TARGETS). */
  allowAll: boolean;
  /** The hub's own public origin, never a target. */
  hubOrigin: string;
}

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["192.0.0.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  BLOCKED.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fe80::", 10],
  ["ff00::", 8],
  ["fd00:ec2::254", 128],
] as const)
  BLOCKED.addSubnet(net, prefix, "ipv6");

const BLOCKED_NAMES =
  /^(localhost|metadata|metadata\.google\.internal|metadata\.goog|instance-data(\.ec2\.internal)?)$|\.localhost$/;

/** The IPv4 address an IPv6 address embeds (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, IPv4-compatible). */
function embeddedIpv4(v6: string): string | undefined {
  const m = /^(?:::ffff:|64:ff9b::|::)(?:([0-9a-f]{1,4}):([0-9a-f]{1,4})|(\d+\.\d+\.\d+\.\d+))$/i.exec(v6);
  if (!m) return undefined;
  if (m[3]) return m[3];
  const hi = Number.parseInt(m[1] as string, 16);
  const lo = Number.parseInt(m[2] as string, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Whether an IP address (either family) is one the hub never calls in production. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, "ipv4");
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return BLOCKED.check(v4, "ipv4");
    return BLOCKED.check(address, "ipv6");
  }
  return true;
}

function refused(field: string, why: string): MeshauthError {
  return new MeshauthError("invalid_request", `${field}: ${why}`, { field });
}

function hostOf(url: URL): string {
  return url.hostname
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "")
    .toLowerCase();
}

/** Refuses a target by its URL alone (IP literals in any spelling, names, the hub's own origin). */
export function checkTargetUrl(raw: string, policy: OutboundPolicy, field: string): void {
  if (policy.allowAll) return;
  const url = new URL(raw);
  const host = hostOf(url);
  if (url.origin === new URL(policy.hubOrigin).origin) throw refused(field, "must not point at this hub");
  if (BLOCKED_NAMES.test(host))
    throw refused(field, `${host} is a local or cloud metadata name; the hub does not call it in production`);
  if (isIP(host) && isBlockedAddress(host))
    throw refused(
      field,
      `${host} is a loopback, link-local or otherwise internal address; the hub does not call it in production`,
    );
}

/** The addresses a name resolves to (all of them), as the connection would see them. */
function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );
}

/** The URL check plus every address its name resolves to now (at registration). */
export async function checkTarget(raw: string, policy: OutboundPolicy, field: string): Promise<void> {
  if (policy.allowAll) return;
  checkTargetUrl(raw, policy, field);
  const host = hostOf(new URL(raw));
  if (isIP(host)) return;
  const addresses = await resolveAll(host).catch(() => []);
  const bad = addresses.find((a) => isBlockedAddress(a.address));
  if (bad)
    throw refused(
      field,
      `${host} resolves to ${bad.address}, an internal address; the hub does not call it in production`,
    );
}

/**
 * A fetch that checks the address each connection actually goes to (so a name that
 * resolves elsewhere after registration, DNS rebinding, is refused too). With
 * `allowAll` it is the plain global fetch.
 */
export function guardedFetch(policy: OutboundPolicy): typeof fetch {
  if (policy.allowAll) return fetch;
  const agent = new Agent({
    connect: {
      lookup(hostname, options, callback) {
        dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
          if (err) return callback(err, "", 4);
          const bad = addresses.find((a) => isBlockedAddress(a.address));
          if (bad) {
            const e = Object.assign(new Error(`${hostname} resolves to an internal address`), {
              code: "EADDRNOTALLOWED",
            });
            return callback(e, "", 4);
          }
          if ((options as { all?: boolean }).all)
            return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
          const first = addresses[0] as LookupAddress;
          callback(null, first.address, first.family);
        });
      },
    },
  });
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const target = String(input instanceof Request ? input.url : input);
    checkTargetUrl(target, policy, "url");
    return undiciFetch(target, { ...(init as object), dispatcher: agent } as Parameters<
      typeof undiciFetch
    >[1]);
  }) as unknown as typeof fetch;
}
