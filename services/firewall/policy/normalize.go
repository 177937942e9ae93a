package policy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"aileron.dev/pkg/errcode"
)

// Limits on one allowed-domains list, enforced by NormalizeDomains.
const (
	// MaxDomains is the most entries one list may hold.
	MaxDomains = 128
	// MaxDomainsBytes is the most bytes the entries of one list may add up to.
	MaxDomainsBytes = 16 << 10
)

const (
	maxNameLen  = 253
	maxLabelLen = 63
)

// Normalize validates one allowed-domain entry and returns its canonical form:
// trimmed, lowercase, one trailing dot removed, IDNA A-labels (lookup
// profile), optionally prefixed by "*." for "any subdomain". It rejects with
// an *Error anything that is not such a name: IP literals in every notation,
// CIDRs, URLs, ports, paths, bare or inner wildcards, wildcards over a public
// suffix, control or invisible characters, over-long labels or names and
// single-label names.
func Normalize(entry string) (string, error) {
	s := strings.TrimSpace(entry)
	if s == "" {
		return "", domainError(entry, "empty entry")
	}
	if reason := shapeReason(s); reason != "" {
		return "", domainError(entry, reason)
	}
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	wildcard := false
	switch {
	case s == "*":
		return "", domainError(entry, `a bare "*" would allow everything; use mode "unrestricted" instead`)
	case strings.HasPrefix(s, "*."):
		wildcard, s = true, s[2:]
	}
	if strings.Contains(s, "*") {
		return "", domainError(entry, `"*" is only allowed as a whole leading label, as in "*.example.com"`)
	}
	// Checked before IDNA so a numeric name gets the IP reason, not an IDNA one.
	if numericLastLabel(s) {
		return "", domainError(entry, ipLiteralReason)
	}
	ascii, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", domainError(entry, "not a valid domain name ("+strings.TrimPrefix(err.Error(), "idna: ")+")")
	}
	if reason := nameReason(ascii, wildcard); reason != "" {
		return "", domainError(entry, reason)
	}
	if wildcard {
		return "*." + ascii, nil
	}
	return ascii, nil
}

const ipLiteralReason = "IP addresses are not allowed, give a domain name"

// shapeReason rejects entries that are clearly not a bare host name, so the
// user learns what they typed (a URL, a CIDR...) rather than a generic error.
func shapeReason(s string) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Sprintf("contains whitespace, control or invisible character %U", r)
		}
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return ipLiteralReason
	}
	switch {
	case strings.Contains(s, "://"):
		return "URLs are not allowed, give the host name only"
	case strings.ContainsAny(s, "@?#"):
		return "URLs are not allowed (user info, query or fragment), give the host name only"
	case strings.ContainsAny(s, "[]"):
		return ipLiteralReason
	case strings.Contains(s, "/"):
		if _, err := netip.ParsePrefix(s); err == nil {
			return "CIDR ranges are not allowed, give a domain name"
		}
		if _, err := netip.ParseAddr(s[:strings.Index(s, "/")]); err == nil {
			return "CIDR ranges are not allowed, give a domain name"
		}
		return "paths are not allowed, give the host name only"
	case strings.Contains(s, ":"):
		if host, _, err := net.SplitHostPort(s); err == nil {
			if _, err := netip.ParseAddr(host); err == nil || numericLastLabel(host) {
				return ipLiteralReason
			}
		}
		return "ports are not allowed, give the host name only (ports 443 and 80 are implied)"
	}
	return ""
}

// nameReason checks the structure of an IDNA-encoded name (without "*.").
func nameReason(name string, wildcard bool) string {
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" {
			return "empty label (leading, trailing or consecutive dots)"
		}
		if len(l) > maxLabelLen {
			return fmt.Sprintf("label %q is longer than %d characters", truncate(l), maxLabelLen)
		}
	}
	// IDNA mapping can turn full-width digits into ASCII ones.
	if numericLastLabel(name) {
		return ipLiteralReason
	}
	if wildcard {
		if ps, _ := publicsuffix.PublicSuffix(name); ps == name {
			return fmt.Sprintf("a wildcard over the public suffix %q would match unrelated owners' sites", name)
		}
	}
	if len(labels) < 2 {
		return "single-label names are not allowed, give a full domain name such as example.com"
	}
	total := len(name)
	if wildcard {
		total += 2
	}
	if total > maxNameLen {
		return fmt.Sprintf("name is longer than %d characters", maxNameLen)
	}
	return ""
}

// numericLastLabel reports whether the last label of s is all decimal digits
// or 0x-prefixed hex. Resolvers and URL parsers read such names as IPv4
// addresses ("127.1", "0x7f.1", "2130706433", "0177.0.0.1").
func numericLastLabel(s string) bool {
	last := s[strings.LastIndex(s, ".")+1:]
	if last == "" {
		return false
	}
	digits := last
	isHex := false
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		digits, isHex = last[2:], true
		if digits == "" {
			return true
		}
	}
	for _, r := range digits {
		switch {
		case r >= '0' && r <= '9':
		case isHex && (r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'):
		default:
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// NormalizeDomains validates and normalises every entry of a list and returns
// the entries deduplicated and sorted (never nil). field names the list in
// errors: a bad entry is reported as field[i] with its value; a list over
// MaxDomains entries or MaxDomainsBytes bytes gets errcode.FirewallDomainsTooMany.
func NormalizeDomains(field string, entries []string) ([]string, error) {
	if field == "" {
		field = SettingAllowedDomains
	}
	if len(entries) > MaxDomains {
		return nil, &Error{Code: errcode.FirewallDomainsTooMany, Field: field,
			Reason: fmt.Sprintf("%d entries, at most %d are allowed", len(entries), MaxDomains)}
	}
	total := 0
	for _, e := range entries {
		total += len(e)
	}
	if total > MaxDomainsBytes {
		return nil, &Error{Code: errcode.FirewallDomainsTooMany, Field: field,
			Reason: fmt.Sprintf("%d bytes in total, at most %d are allowed", total, MaxDomainsBytes)}
	}
	return normalizeList(field, entries)
}

// normalizeList is NormalizeDomains without the size limits, for operator
// defaults that are not user input.
func normalizeList(field string, entries []string) ([]string, error) {
	out := make([]string, 0, len(entries))
	for i, e := range entries {
		n, err := Normalize(e)
		if err != nil {
			var pe *Error
			if errors.As(err, &pe) {
				pe.Field = fmt.Sprintf("%s[%d]", field, i)
			}
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// IsIPLiteral reports whether host is an IP address in any notation a client
// or resolver accepts: dotted or bracketed IPv6, and dotted, shortened,
// decimal, octal or hex IPv4 ("127.1", "2130706433", "0x7f.1").
func IsIPLiteral(host string) bool {
	h := strings.TrimSuffix(strings.TrimSpace(host), ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return numericLastLabel(h)
}
