# Sourced by the benchmark scripts that start a server of their own: `free_port` prints a TCP port
# on 127.0.0.1 that nothing listens on now (the kernel's choice for port 0).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
