// The `vae` binary: the command line of VAECommandLine, nothing else.

import VAECommandLine

VAECommand.main()
