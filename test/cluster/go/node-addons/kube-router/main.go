// Command kube-router runs only kube-router's NetworkPolicy firewall (its netpol controller), the
// one part of kube-router the real nodes use: pod networking is the CNI bridge and Services are
// kube-proxy's. kube-router's own command links the BGP router (gobgp) and the IPVS service
// proxy as well, about twice the packages, so a cold build of it took ~10 minutes here; this
// one imports only the netpol, healthcheck and options packages. It takes kube-router's flags
// (options.AddFlags), --cleanup-config included, and refuses the ones that ask for the parts it leaves out.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"github.com/spf13/pflag"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "kube-router (firewall only): %s\n", err)
		os.Exit(1)
	}
}

func run() error {
	klog.InitFlags(nil)
	config := options.NewKubeRouterConfig()
	config.AddFlags(pflag.CommandLine)
	pflag.Parse()
	if err := flag.Set("logtostderr", "true"); err != nil {
		return err
	}
	if err := flag.Set("v", config.VLevel); err != nil {
		return err
	}
	if config.HelpRequested {
		pflag.Usage()
		return nil
	}
	if config.CleanupConfig {
		// As kube-router's --cleanup-config does for its firewall: remove its chains and ipsets.
		if os.Geteuid() != 0 {
			return fmt.Errorf("--cleanup-config needs root to run iptables and ipset")
		}
		npc := netpol.NetworkPolicyController{}
		npc.Cleanup()
		return nil
	}
	if config.RunRouter || config.RunServiceProxy || config.RunLoadBalancer || config.EnableCNI {
		return fmt.Errorf("this build runs only the firewall: pass --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false --enable-cni=false")
	}
	if !config.RunFirewall {
		return fmt.Errorf("--run-firewall=false leaves nothing to run")
	}
	if config.Kubeconfig == "" && config.Master == "" {
		return fmt.Errorf("--kubeconfig (or --master) is required")
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("the firewall needs root to run iptables and ipset")
	}

	restConfig, err := clientcmd.BuildConfigFromFlags(config.Master, config.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}

	// The same order as kube-router's own Run(): health server, informers synced, then the
	// controller, whose heartbeats the health check requires.
	var wg sync.WaitGroup
	var ipsetMutex sync.Mutex
	stopCh := make(chan struct{})
	healthChan := make(chan *healthcheck.ControllerHeartbeat, 10)
	hc, err := healthcheck.NewHealthController(config)
	if err != nil {
		return fmt.Errorf("health controller: %w", err)
	}
	wg.Add(1)
	go hc.RunServer(stopCh, &wg)

	factory := informers.NewSharedInformerFactory(client, 0)
	podInformer := factory.Core().V1().Pods().Informer()
	nsInformer := factory.Core().V1().Namespaces().Informer()
	npInformer := factory.Networking().V1().NetworkPolicies().Informer()
	factory.Start(stopCh)
	synced := make(chan struct{})
	go func() { factory.WaitForCacheSync(stopCh); close(synced) }()
	select {
	case <-synced:
	case <-time.After(config.CacheSyncTimeout):
		return fmt.Errorf("informer caches not synced within %s", config.CacheSyncTimeout)
	}
	hc.SetAlive()
	wg.Add(1)
	go hc.RunCheck(healthChan, stopCh, &wg)

	iptablesHandlers, ipsetHandlers, err := netpol.NewIPTablesHandlers(config)
	if err != nil {
		return fmt.Errorf("iptables handlers: %w", err)
	}
	npc, err := netpol.NewNetworkPolicyController(client, config, podInformer, npInformer, nsInformer, &ipsetMutex, iptablesHandlers, ipsetHandlers)
	if err != nil {
		return fmt.Errorf("network policy controller: %w", err)
	}
	if _, err := podInformer.AddEventHandler(npc.PodEventHandler); err != nil {
		return err
	}
	if _, err := nsInformer.AddEventHandler(npc.NamespaceEventHandler); err != nil {
		return err
	}
	if _, err := npInformer.AddEventHandler(npc.NetworkPolicyEventHandler); err != nil {
		return err
	}
	wg.Add(1)
	go npc.Run(healthChan, stopCh, &wg)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	klog.Info("shutting down the firewall")
	close(stopCh)
	wg.Wait()
	return nil
}
