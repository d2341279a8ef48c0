//go:build tools

// Package tools records the helm command this module builds (chart lint,
// template golden files and installs in the e2e tests).
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
