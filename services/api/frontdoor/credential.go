package frontdoor

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"aileron.dev/pkg/workspace"
)

// claims is what a ticket or session cookie vouches for: one subject on one
// service of one workspace (or one preview port of its runtime), as long as the workspace keeps the generation it
// had when the ticket was issued (a stop, start or restart bumps it and so
// ends every session).
type claims struct {
	Workspace  string            `json:"w"`
	Service    workspace.Service `json:"s"`
	Port       uint16            `json:"p,omitempty"` // a preview's port
	Subject    string            `json:"sub"`
	Admin      bool              `json:"adm,omitempty"`
	Generation int64             `json:"gen"`
	Expires    int64             `json:"exp"`
	Nonce      string            `json:"n,omitempty"`
}

var errCredential = errors.New("credential invalid")

// signer signs and checks one kind of credential with its own sub-key.
type signer struct{ key []byte }

func (s signer) sign(c claims) string {
	body, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(body)
	m := hmac.New(sha256.New, s.key)
	_, _ = m.Write([]byte(p))
	return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the claims of a credential signed by s that has not expired.
func (s signer) verify(v string, now time.Time) (claims, error) {
	p, sig, ok := strings.Cut(v, ".")
	if !ok || len(v) > 2048 {
		return claims{}, errCredential
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return claims{}, errCredential
	}
	m := hmac.New(sha256.New, s.key)
	_, _ = m.Write([]byte(p))
	if !hmac.Equal(got, m.Sum(nil)) {
		return claims{}, errCredential
	}
	body, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return claims{}, errCredential
	}
	var c claims
	if err := json.Unmarshal(body, &c); err != nil || now.Unix() >= c.Expires {
		return claims{}, errCredential
	}
	return c, nil
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// spent remembers the nonces of used tickets until they expire, so a ticket
// (which travels in a URL, and so in history and logs) buys one session only.
// It is per API replica: behind several replicas a ticket could be spent once
// on each within its short lifetime.
type spent struct {
	mu     sync.Mutex
	nonces map[string]int64 // nonce → expiry (unix seconds)
}

// spend reports whether n was unspent, and marks it spent.
func (s *spent) spend(n string, exp int64, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nonces == nil {
		s.nonces = map[string]int64{}
	}
	if len(s.nonces) > 1024 {
		for k, e := range s.nonces {
			if e <= now.Unix() {
				delete(s.nonces, k)
			}
		}
	}
	if _, ok := s.nonces[n]; ok {
		return false
	}
	s.nonces[n] = exp
	return true
}
