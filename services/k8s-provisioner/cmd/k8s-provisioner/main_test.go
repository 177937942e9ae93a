package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	c, err := parse([]string{"--namespace", "ws", "--image-browser", "reg/chrome:1"})
	require.NoError(t, err)
	require.Equal(t, "ws", c.Provisioner.Namespace)
	require.Equal(t, "reg/chrome:1", c.Provisioner.Images.Browser)
	_, err = parse([]string{"--namespace", ""})
	require.ErrorContains(t, err, "namespace")
	_, err = parse([]string{"--image-canvas", ""})
	require.ErrorContains(t, err, "image")
}
