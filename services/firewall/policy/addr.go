package policy

import "net/netip"

// blockedPrefixes are the destinations no policy ever reaches: everything that
// is not globally routable unicast. The egress gateway refuses a name if any
// of its addresses falls in one, and the Cilium renderer denies them.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),        // "this network", unspecified
	netip.MustParsePrefix("10.0.0.0/8"),       // private
	netip.MustParsePrefix("100.64.0.0/10"),    // CGNAT shared space (also Alibaba metadata)
	netip.MustParsePrefix("127.0.0.0/8"),      // loopback
	netip.MustParsePrefix("169.254.0.0/16"),   // link-local, cloud metadata 169.254.169.254
	netip.MustParsePrefix("168.63.129.16/32"), // Azure's host endpoint (WireServer, DNS, health probes): public-looking, host-local
	netip.MustParsePrefix("172.16.0.0/12"),    // private
	netip.MustParsePrefix("192.0.0.0/24"),     // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),     // documentation TEST-NET-1
	netip.MustParsePrefix("192.88.99.0/24"),   // 6to4 relay anycast (deprecated)
	netip.MustParsePrefix("192.168.0.0/16"),   // private
	netip.MustParsePrefix("198.18.0.0/15"),    // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"),  // documentation TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),   // documentation TEST-NET-3
	netip.MustParsePrefix("224.0.0.0/4"),      // multicast
	netip.MustParsePrefix("240.0.0.0/4"),      // reserved, broadcast 255.255.255.255
	// IPv6 global unicast is 2000::/3; these three cover everything else:
	// ::, ::1, IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96 and
	// 64:ff9b:1::/48, discard 100::/64 (in ::/3); ULA fc00::/7 with the
	// metadata address fd00:ec2::254, link-local fe80::/10 and multicast
	// ff00::/8 (in 8000::/1).
	netip.MustParsePrefix("::/3"),
	netip.MustParsePrefix("4000::/2"),
	netip.MustParsePrefix("8000::/1"),
	netip.MustParsePrefix("2001::/23"),     // IETF protocol assignments, Teredo 2001::/32, benchmarking
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	netip.MustParsePrefix("2002::/16"),     // 6to4
	netip.MustParsePrefix("3fff::/20"),     // documentation (RFC 9637)
}

// BlockedPrefixes returns the address ranges PublicAddr rejects, in a stable
// order (a fresh copy each call).
func BlockedPrefixes() []netip.Prefix {
	return append([]netip.Prefix(nil), blockedPrefixes...)
}

// PublicAddr reports whether a is a globally routable unicast address that
// egress may reach. It is false for private, loopback, link-local, CGNAT,
// multicast, unspecified, broadcast, metadata, NAT64, 6to4, Teredo,
// IPv4-mapped, documentation, benchmarking, reserved and ULA addresses, and
// for any address with an IPv6 zone.
func PublicAddr(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// ParsePrefix reads an address range ("203.0.113.0/24", masked) or a single
// address ("203.0.113.7", as a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err
}
