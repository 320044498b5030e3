// Command daprd-workflow is a Dapr sidecar (daprd) for the interop tests that
// carries only what a workflow sidecar on loopback needs: the "in-memory" state
// store (used as the actor state store) and the "nameformat" name resolver (so
// no mDNS traffic leaves the machine). Every other component kind has an empty
// registry, so a components file naming anything else fails to load.
//
// It is built by scripts/interop/install_dapr.sh against a pinned
// github.com/dapr/dapr version and is ours: it wires the runtime the same way
// upstream's daprd does, with its own, much smaller, component list.
package main

import (
	"context"
	"fmt"
	"os"

	"go.opencensus.io/stats/view"

	inmemorystate "github.com/dapr/components-contrib/state/in-memory"
	"github.com/dapr/components-contrib/nameresolution/nameformat"

	"github.com/dapr/dapr/cmd/daprd/options"
	"github.com/dapr/dapr/pkg/buildinfo"
	bindingsLoader "github.com/dapr/dapr/pkg/components/bindings"
	configurationLoader "github.com/dapr/dapr/pkg/components/configuration"
	conversationLoader "github.com/dapr/dapr/pkg/components/conversation"
	cryptoLoader "github.com/dapr/dapr/pkg/components/crypto"
	lockLoader "github.com/dapr/dapr/pkg/components/lock"
	httpMiddlewareLoader "github.com/dapr/dapr/pkg/components/middleware/http"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
	pubsubLoader "github.com/dapr/dapr/pkg/components/pubsub"
	secretstoresLoader "github.com/dapr/dapr/pkg/components/secretstores"
	stateLoader "github.com/dapr/dapr/pkg/components/state"
	"github.com/dapr/dapr/pkg/healthz"
	"github.com/dapr/dapr/pkg/metrics"
	"github.com/dapr/dapr/pkg/modes"
	"github.com/dapr/dapr/pkg/runtime"
	"github.com/dapr/dapr/pkg/runtime/registry"
	"github.com/dapr/dapr/pkg/security"
	"github.com/dapr/kit/concurrency"
	"github.com/dapr/kit/logger"
	"github.com/dapr/kit/signals"
)

var (
	runtimeLog    = logger.NewLogger("dapr.runtime")
	componentsLog = logger.NewLogger("dapr.contrib")
)

// register fills the component registries this sidecar offers.
func register() {
	stateLoader.DefaultRegistry.Logger = componentsLog
	stateLoader.DefaultRegistry.RegisterComponent(inmemorystate.NewInMemoryStateStore, "in-memory")
	nrLoader.DefaultRegistry.Logger = componentsLog
	nrLoader.DefaultRegistry.RegisterComponent(nameformat.NewResolver, "nameformat")
}

func main() {
	opts, err := options.New(os.Args[1:])
	if err != nil {
		runtimeLog.Fatalf("bad flags: %v", err)
	}
	if opts.RuntimeVersion {
		fmt.Println(buildinfo.Version()) //nolint:forbidigo
		return
	}
	opts.Logger.SetAppID(opts.AppID)
	if err := logger.ApplyOptionsToLoggers(&opts.Logger); err != nil {
		runtimeLog.Fatal(err)
	}
	register()
	runtimeLog.Infof("daprd-workflow on dapr runtime %s", buildinfo.Version())

	// One run, no SIGHUP reload loop: the tests start a fresh process instead.
	if err := serve(signals.Context(), opts); err != nil {
		runtimeLog.Fatalf("runtime stopped with an error: %s", err)
	}
}

func serve(ctx context.Context, opts *options.Options) error {
	reg := registry.NewOptions().
		WithSecretStores(secretstoresLoader.DefaultRegistry).
		WithStateStores(stateLoader.DefaultRegistry).
		WithConfigurations(configurationLoader.DefaultRegistry).
		WithLocks(lockLoader.DefaultRegistry).
		WithPubSubs(pubsubLoader.DefaultRegistry).
		WithNameResolutions(nrLoader.DefaultRegistry).
		WithBindings(bindingsLoader.DefaultRegistry).
		WithCryptoProviders(cryptoLoader.DefaultRegistry).
		WithHTTPMiddlewares(httpMiddlewareLoader.DefaultRegistry).
		WithConversations(conversationLoader.DefaultRegistry)

	health := healthz.New()
	provider, err := security.New(ctx, security.Options{
		SentryAddress:           opts.SentryAddress,
		ControlPlaneTrustDomain: opts.ControlPlaneTrustDomain,
		ControlPlaneNamespace:   opts.ControlPlaneNamespace,
		TrustAnchors:            opts.TrustAnchors,
		AppID:                   opts.AppID,
		MTLSEnabled:             opts.EnableMTLS,
		Mode:                    modes.DaprMode(opts.Mode),
		Healthz:                 health,
		JwtAudiences:            opts.SentryRequestJwtAudiences,
	})
	if err != nil {
		return err
	}

	startRuntime := func(ctx context.Context) error {
		handler, err := provider.Handler(ctx)
		if err != nil {
			return err
		}
		rt, err := runtime.FromConfig(ctx, &runtime.Config{
			AppID:                         opts.AppID,
			ActorsService:                 opts.ActorsService,
			ActorsDisseminationTimeout:    opts.ActorsDisseminationTimeout,
			RemindersService:              opts.RemindersService,
			SchedulerAddress:              opts.SchedulerAddress,
			SchedulerStreams:              opts.SchedulerJobStreams,
			AllowedOrigins:                opts.AllowedOrigins,
			ResourcesPath:                 opts.ResourcesPath,
			ControlPlaneAddress:           opts.ControlPlaneAddress,
			AppProtocol:                   opts.AppProtocol,
			Mode:                          opts.Mode,
			DaprHTTPPort:                  opts.DaprHTTPPort,
			DaprInternalGRPCPort:          opts.DaprInternalGRPCPort,
			DaprInternalGRPCListenAddress: opts.DaprInternalGRPCListenAddress,
			DaprAPIGRPCPort:               opts.DaprAPIGRPCPort,
			DaprAPIListenAddresses:        opts.DaprAPIListenAddresses,
			DaprPublicPort:                opts.DaprPublicPort,
			DaprPublicListenAddress:       opts.DaprPublicListenAddress,
			ApplicationPort:               opts.AppPort,
			ProfilePort:                   opts.ProfilePort,
			EnableProfiling:               opts.EnableProfiling,
			AppMaxConcurrency:             opts.AppMaxConcurrency,
			EnableMTLS:                    opts.EnableMTLS,
			SentryAddress:                 opts.SentryAddress,
			MaxRequestSize:                opts.MaxRequestSize,
			ReadBufferSize:                opts.ReadBufferSize,
			UnixDomainSocket:              opts.UnixDomainSocket,
			DaprGracefulShutdownSeconds:   opts.DaprGracefulShutdownSeconds,
			DaprBlockShutdownDuration:     opts.DaprBlockShutdownDuration,
			DisableBuiltinK8sSecretStore:  opts.DisableBuiltinK8sSecretStore,
			EnableAppHealthCheck:          opts.EnableAppHealthCheck,
			AppHealthCheckPath:            opts.AppHealthCheckPath,
			AppHealthProbeInterval:        opts.AppHealthProbeInterval,
			AppHealthProbeTimeout:         opts.AppHealthProbeTimeout,
			AppHealthThreshold:            opts.AppHealthThreshold,
			AppChannelAddress:             opts.AppChannelAddress,
			EnableAPILogging:              opts.EnableAPILogging,
			Config:                        opts.Config,
			DisableInitEndpoints:          opts.DisableInitEndpoints,
			Metrics: metrics.Options{
				Enabled:       opts.Metrics.Enabled(),
				Log:           runtimeLog,
				Port:          opts.Metrics.Port(),
				Namespace:     metrics.DefaultMetricNamespace,
				Healthz:       health,
				ListenAddress: opts.Metrics.ListenAddress(),
				Meter:         view.NewMeter(),
			},
			AppSSL:         opts.AppSSL,
			ComponentsPath: opts.ComponentsPath,
			Registry:       reg,
			Security:       handler,
			Healthz:        health,
		})
		if err != nil {
			return err
		}
		return rt.Run(ctx)
	}

	return concurrency.NewRunnerManager(provider.Run, startRuntime).Run(ctx)
}
