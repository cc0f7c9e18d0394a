//go:build tools

// Package tools pins the Kubernetes commands devstack builds from this module.
package tools
