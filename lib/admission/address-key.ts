import { isIPv6 } from 'node:net'

/**
 * The key under which per-address limits count a client: its IPv4 address, or the /64 prefix of
 * its IPv6 address (one subscriber usually holds a whole /64, so counting single IPv6 addresses
 * would let one host spread over 2^64 keys). IPv4-mapped IPv6 addresses count as IPv4. An unknown
 * address (an injected request without a socket) is the empty key.
 */
export function addressKey (ip: string | undefined): string {
  if (ip === undefined || ip === '') return ''
  if (!isIPv6(ip)) return ip
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped !== null) return mapped[1]
  return `${ipv6Prefix64(ip)}::/64`
}

/** The first four 16-bit groups of a valid IPv6 address, normalised (lower case, no leading zeros). */
function ipv6Prefix64 (ip: string): string {
  const zone = ip.indexOf('%')
  const address = zone === -1 ? ip : ip.slice(0, zone)
  const [head, tail] = address.split('::') as [string, string | undefined]
  const headGroups = head === '' ? [] : head.split(':')
  let groups = headGroups
  if (tail !== undefined) {
    const tailGroups = tail === '' ? [] : tail.split(':')
    // An embedded IPv4 tail (::a.b.c.d) takes two groups; only the first four groups matter here.
    const tailLength = tailGroups.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0)
    groups = [...headGroups, ...new Array<string>(8 - headGroups.length - tailLength).fill('0'), ...tailGroups]
  }
  return groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16)).join(':')
}
