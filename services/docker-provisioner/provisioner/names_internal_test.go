package provisioner

import (
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/workspace"
)

func TestLabelsKeepServicesAndRolesApart(t *testing.T) {
	p := &Provisioner{cfg: Config{Instance: "test"}}
	svc := p.serviceLabels("abc", workspace.ServiceRuntime)
	require.Equal(t, string(workspace.ServiceRuntime), svc[LabelService])
	require.NotContains(t, svc, LabelRole)
	require.Empty(t, roleOf(svc), "a service container has no role")

	gw := p.roleLabels("abc", roleGateway)
	require.Equal(t, string(roleGateway), gw[LabelRole])
	require.NotContains(t, gw, LabelService, "the service label names services only")
	require.Equal(t, roleGateway, roleOf(gw))

	// An object an older version created carries its role under LabelService.
	require.Equal(t, roleGateway, roleOf(map[string]string{LabelService: string(roleGateway)}))
	require.Equal(t, roleNetWS, roleOf(map[string]string{LabelService: string(roleNetWS)}))
	require.Empty(t, roleOf(map[string]string{LabelService: string(workspace.ServiceBrowser)}))
}
