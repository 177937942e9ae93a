package workspace

// Phases lists every report phase.
var Phases = []Phase{PhaseRunning, PhaseStopped, PhaseDeleted, PhaseFailed, PhaseProgressing}
