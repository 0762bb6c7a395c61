"""The turn engine as a library: audio frames in, Flux messages out; no sockets, no clock."""
