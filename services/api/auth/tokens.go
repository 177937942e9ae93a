package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// StaticToken is one automation token in the tokens file. Only the SHA-256 of
// the token is stored: `printf %s "$TOKEN" | sha256sum`.
type StaticToken struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Admin  bool   `json:"admin"`
}

// LoadTokens reads a JSON array of StaticToken.
func LoadTokens(path string) (map[string]StaticToken, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tokens file: %w", err)
	}
	var list []StaticToken
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("parse tokens file %s: %w", path, err)
	}
	out := make(map[string]StaticToken, len(list))
	for i, t := range list {
		h := strings.ToLower(t.SHA256)
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("tokens file %s: entry %d (%q): sha256 must be 64 hex characters", path, i, t.Name)
		}
		if t.Name == "" {
			return nil, fmt.Errorf("tokens file %s: entry %d has no name", path, i)
		}
		out[h] = t
	}
	return out, nil
}

// HashToken returns the hex SHA-256 of a token, as stored in the tokens file.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
