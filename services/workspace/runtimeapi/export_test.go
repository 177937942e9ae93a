package runtimeapi

// SetResolvConf points the server at another resolv.conf than the machine's.
func (s *Server) SetResolvConf(path string) { s.resolvConf = path }
