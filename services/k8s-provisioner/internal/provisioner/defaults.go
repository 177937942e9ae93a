package provisioner

import (
	"encoding/json"
	"fmt"
	"os"

	"aileron.dev/pkg/workspace"
)

// defaultsFile is the workspace defaults file the Helm chart renders: a
// Workspace spec fragment with each service's image and resources and the
// storage settings.
type defaultsFile struct {
	Services map[string]struct {
		Image     string         `json:"image"`
		Resources map[string]any `json:"resources"`
	} `json:"services"`
	Storage struct {
		Size             string `json:"size"`
		StorageClassName string `json:"storageClassName"`
	} `json:"storage"`
}

// LoadDefaults overlays the images, resources and storage of a workspace
// defaults file on c.
func (c *Config) LoadDefaults(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read workspace defaults: %w", err)
	}
	var d defaultsFile
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("parse workspace defaults %s: %w", path, err)
	}
	for name, s := range d.Services {
		img := c.Images.Get(workspace.Service(name))
		if img == nil {
			return fmt.Errorf("workspace defaults %s: unknown service %q", path, name)
		}
		if s.Image != "" {
			*img = s.Image
		}
		if len(s.Resources) > 0 {
			if c.Resources == nil {
				c.Resources = map[string]map[string]any{}
			}
			c.Resources[name] = s.Resources
		}
	}
	if d.Storage.Size != "" {
		c.StorageSize = d.Storage.Size
	}
	if d.Storage.StorageClassName != "" {
		c.StorageClassName = d.Storage.StorageClassName
	}
	return nil
}
