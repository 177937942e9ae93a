// Package openapi embeds the OpenAPI (Swagger 2.0) description generated from
// the protos, so the API can serve it. This file is the only hand-written one
// under gen/; make generate keeps it.
package openapi

import _ "embed"

// JSON is the merged OpenAPI document of every Aileron API.
//
//go:embed aileron.swagger.json
var JSON []byte
