import { BlockList, isIPv4, isIPv6 } from "node:net";
import { UsageError } from "../shared/errors.js";

/**
 * Builds a `BlockList` that matches every network in `cidrs`, such as `10.0.0.0/8` or
 * `fd00::/8`. A bare address matches that address alone. `BlockList.check` also matches an
 * IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) against IPv4 networks.
 *
 * @throws UsageError naming the first invalid value.
 */
export function parseCidrs(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = "", prefixText, extra] = cidr.split("/");
    const family = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : undefined;
    const maxPrefix = family === "ipv4" ? 32 : 128;
    const prefix = prefixText === undefined ? maxPrefix : Number(prefixText);
    const validPrefix =
      prefixText === undefined || (/^\d{1,3}$/.test(prefixText) && prefix <= maxPrefix);
    if (family === undefined || extra !== undefined || !validPrefix) {
      throw new UsageError(
        `--allowed-cidrs contains an invalid CIDR ${JSON.stringify(cidr)}; ` +
          `expected an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8`,
      );
    }
    list.addSubnet(address, prefix, family);
  }
  return list;
}

/** Splits comma-separated CIDR lists and drops empty entries. */
export function splitCidrList(values: readonly string[]): string[] {
  return values
    .flatMap((value) => value.split(","))
    .map((value) => value.trim())
    .filter((value) => value !== "");
}

/** Returns whether `address` (as `socket.remoteAddress` reports it) is in `list`. */
export function isAddressAllowed(list: BlockList, address: string | undefined): boolean {
  if (address === undefined) return false;
  if (isIPv4(address)) return list.check(address, "ipv4");
  if (isIPv6(address)) return list.check(address, "ipv6");
  return false;
}
