package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

// jwksServer serves a key set the test changes, counting fetches.
type jwksServer struct {
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	down    bool
	fetches atomic.Int32
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: s.keys})
}

func (s *jwksServer) set(down bool, keys ...jose.JSONWebKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down, s.keys = down, keys
}

func signWith(t *testing.T, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	require.NoError(t, err)
	jws, err := signer.Sign([]byte(`{"sub":"x"}`))
	require.NoError(t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(t, err)
	return raw
}

func TestKeySetRefetchesAtABoundedRate(t *testing.T) {
	k1, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	k2, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pub := func(k *rsa.PrivateKey, kid string) jose.JSONWebKey {
		return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}
	}
	srv := &jwksServer{}
	srv.set(false, pub(k1, "k1"))
	hs := httptest.NewServer(srv)
	defer hs.Close()
	now := time.Unix(1_700_000_000, 0)
	ks := &keySet{uri: hs.URL, client: hs.Client(), algs: []jose.SignatureAlgorithm{jose.RS256}, every: 10 * time.Second,
		now: func() time.Time { return now }}
	ctx := context.Background()

	_, err = ks.VerifySignature(ctx, signWith(t, k1, "k1"))
	require.NoError(t, err)
	require.EqualValues(t, 1, srv.fetches.Load())

	// A flood of tokens naming made-up key ids: refused, and no fetch.
	for i := range 50 {
		_, err = ks.VerifySignature(ctx, signWith(t, k2, "made-up-"+string(rune('a'+i%26))))
		require.ErrorIs(t, err, errUnknownKey)
	}
	_, err = ks.VerifySignature(ctx, signWith(t, k2, "k1"))
	require.Error(t, err, "a token signed by another key under a known id")
	require.EqualValues(t, 1, srv.fetches.Load(), "unknown key ids within the interval fetch nothing")

	// The issuer rotates to k2: once the interval has passed, the first
	// token naming it fetches the set again, once.
	srv.set(false, pub(k1, "k1"), pub(k2, "k2"))
	now = now.Add(11 * time.Second)
	_, err = ks.VerifySignature(ctx, signWith(t, k2, "k2"))
	require.NoError(t, err)
	_, err = ks.VerifySignature(ctx, signWith(t, k2, "k2"))
	require.NoError(t, err)
	require.EqualValues(t, 2, srv.fetches.Load())

	// A down issuer is asked once per interval too, and known keys still verify.
	srv.set(true)
	now = now.Add(11 * time.Second)
	for range 5 {
		_, err = ks.VerifySignature(ctx, signWith(t, k2, "k3"))
		require.Error(t, err)
	}
	require.EqualValues(t, 3, srv.fetches.Load())
	_, err = ks.VerifySignature(ctx, signWith(t, k1, "k1"))
	require.NoError(t, err)
}
