package protocol

// The init stage finds its inherited descriptors through these environment
// variables, each holding a file descriptor number. Descriptors 3..3+N-1 are
// reserved for --preserve-fds, so ours come after them.
const (
	EnvSyncFD    = "_GTU_SYNC_FD"    // the sync socket (this protocol)
	EnvLogFD     = "_GTU_LOG_FD"     // write end of the log pipe: JSON lines
	EnvFifoFD    = "_GTU_FIFO_FD"    // O_PATH descriptor of exec.fifo
	EnvConsoleFD = "_GTU_CONSOLE_FD" // --console-socket connection (terminal only)
	EnvPreserve  = "_GTU_PRESERVE_FDS"
	EnvSeccompFD = "_GTU_SECCOMP_FD" // linux.seccomp.listenerPath connection (notify only)
)

// InitArg is argv[1] of gtu-init when gtu runs it as the init stage.
const InitArg = "init"

// GoEnv is added to the init stage's environment (never to the container
// process's, which the plan gives). The init stage is one goroutine locked
// to its thread; with a second P the Go runtime starts a thread more to run
// its background goroutines at start-up (counted with strace: 3 threads
// instead of 4 before the init stage's last execve).
const GoEnv = "GOMAXPROCS=1"
