package controller

import "errors"

// errNotOwned reports a child name taken by an object another owner controls.
var errNotOwned = errors.New("object not owned by the workspace")
