package auth_test

import (
	"encoding/base64"

	"aileron.dev/services/api/server"
)

type serverConfig = server.Config

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
