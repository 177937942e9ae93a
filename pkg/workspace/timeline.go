package workspace

// Step names one step of a lifecycle transition in a workspace's timeline.
type Step string

// Timeline steps. The orchestrator writes requested and the closing step
// (named after the state reached: running, stopped or failed); the
// provisioners report the others as they finish them.
const (
	StepRequested         Step = "requested"
	StepVolumeReady       Step = "volume_ready"
	StepNetworksReady     Step = "networks_ready"
	StepImagePresent      Step = "image_present"
	StepImagePulled       Step = "image_pulled"
	StepContainerCreated  Step = "container_created"
	StepContainerStarted  Step = "container_started"
	StepFirewallApplied   Step = "firewall_applied"
	StepHealthCheckPassed Step = "health_check_passed"
	StepContainerStopped  Step = "container_stopped"

	// Kubernetes: the workspace-operator writes a component's Deployment
	// (deployment_applied), then sees its new pod scheduled (pod_scheduled),
	// its containers started (container_started) and its readiness probes
	// passed (health_check_passed), or, on stop, the pods gone (pods_stopped).
	StepDeploymentApplied Step = "deployment_applied"
	StepPodScheduled      Step = "pod_scheduled"
	StepPodsStopped       Step = "pods_stopped"
)

// Bounds of a workspace's timeline: the last MaxTransitions transitions are
// kept, each with at most MaxTransitionSteps steps (requested and the
// closing step included), so a record stays small whatever a provisioner
// reports.
const (
	MaxTransitions     = 3
	MaxTransitionSteps = 64
)
