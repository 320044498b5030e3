# Sourced by the interop install scripts: `find_go HINT` sets go_bin to the Go toolchain to use ($GO, else `go` on
# PATH, else /usr/local/go/bin/go), or prints an error naming HINT (what version the caller needs) and exits.
find_go() {
    local hint="$1"
    go_bin="${GO:-}"
    if [[ -z "${go_bin}" ]]; then
        if command -v go >/dev/null 2>&1; then
            go_bin="$(command -v go)"
        elif [[ -x /usr/local/go/bin/go ]]; then
            go_bin=/usr/local/go/bin/go
        else
            echo "error: no Go toolchain found (install ${hint} or set GO=/path/to/go)" >&2
            exit 1
        fi
    fi
}
