package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// jwksRefetch is the shortest time between two fetches of the issuer's keys.
const jwksRefetch = 10 * time.Second

var errUnknownKey = errors.New("the token's key id is not one of the issuer's keys")

// keySet holds the issuer's JSON Web Key Set. It fetches the set again when
// a token names a key id it does not hold (the issuer rotated its keys), but
// at most once per interval: a flood of tokens with made-up key ids costs
// the issuer one fetch per interval instead of one per token (go-oidc's
// remote key set fetches for each).
type keySet struct {
	uri    string
	client *http.Client
	algs   []jose.SignatureAlgorithm
	every  time.Duration
	now    func() time.Time

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // the last fetch, successful or not
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("the token must carry exactly one signature")
	}
	keys, err := k.lookup(ctx, jws.Signatures[0].Header.KeyID)
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		if payload, err := jws.Verify(key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("no key of the issuer verifies the token")
}

// lookup returns the keys with kid (every key when kid is empty), fetching
// the set when none matches and the last fetch is old enough.
func (k *keySet) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if m := matching(k.keys, kid); len(m) > 0 {
		return m, nil
	}
	if !k.fetched.IsZero() && k.now().Sub(k.fetched) < k.every {
		return nil, errUnknownKey
	}
	k.fetched = k.now() // a failed fetch counts too: a down issuer is not hammered
	keys, err := k.fetch(ctx)
	if err != nil {
		return nil, err
	}
	k.keys = keys
	if m := matching(keys, kid); len(m) > 0 {
		return m, nil
	}
	return nil, errUnknownKey
}

func matching(keys []jose.JSONWebKey, kid string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, key := range keys {
		if kid == "" || key.KeyID == kid {
			out = append(out, key)
		}
	}
	return out
}

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.uri, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch the issuer's keys: %w", err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the issuer's keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the issuer's keys: %s answered %s", k.uri, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("fetch the issuer's keys: %w", err)
	}
	return set.Keys, nil
}
