// Go peer of benches/processes.rs: workloads W1a, W1b, W2, W3, W5, W6 and
// W12 of BENCHMARKS.md, with goroutines as processes and a buffered channel
// per receiver as its mailbox.
//
// Run: go run peers.go [-runs N] [-only SUBSTRING]
//
// Each workload runs once as a warm-up, then N times (default 5); a line
// per workload gives the median figure and the spread:
//
//	<workload> <median> <unit> (min .. max over N runs)
//
// Names follow the criterion groups in processes.rs (w2_ping_pong/...).
// Every measured run starts from a fresh goroutine (the "root", as
// processes.rs runs each measurement in a root process of its own) after
// a forced garbage collection outside the timed region, so that garbage
// from the previous run is not collected on its clock.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Sizes, as in benches/processes.rs and BENCHMARKS.md.
const (
	chainLinks     = 1_000_000  // W1a: links in the chain
	pingPongTrips  = 1_000_000  // W2: round trips (same worker, default)
	crossPingTrips = 100_000    // W2 cross: fewer, a round trip costs µs
	skynetLeaves   = 1_000_000  // W3 and W12
	skynetSmall    = 10_000     // W3's second size (the one may can run)
	ringSize       = 503        // W5: processes in the ring (RING)
	ringHops       = 10_000_000 // W5: hops (BENCHMARKS.md)
	yielders       = 200        // W6: processes (YIELDERS)
	yieldsEach     = 1000       // W6: yields per process
	workers        = 2          // the VM's cores: two workers, as in processes.rs
	defaultRuns    = 5
	minRuns        = 5
)

// burstSizes are W1b's two sizes in processes.rs (may can hold only the
// smaller one; the larger is the headline).
var burstSizes = []uint64{20_000, 100_000}

// onRoot runs body in a fresh goroutine and returns what it measured,
// the way processes.rs runs each measurement inside Runtime::block_on.
func onRoot(body func() time.Duration) time.Duration {
	result := make(chan time.Duration, 1)
	go func() { result <- body() }()
	return <-result
}

// ---------------------------------------------------------------- W1a

// link is one link of the chain: the last one (left == 0) messages the
// root, every other spawns the next and exits (ferrotp_link).
func link(root chan<- struct{}, left uint64) {
	if left == 0 {
		root <- struct{}{}
		return
	}
	go link(root, left-1)
}

func chainedSpawn(links uint64) time.Duration {
	return onRoot(func() time.Duration {
		root := make(chan struct{}, 1)
		start := time.Now()
		link(root, links)
		<-root
		return time.Since(start)
	})
}

// ---------------------------------------------------------------- W1b

// burstSpawn: the root spawns burst goroutines, each sends its index back,
// the root sums them. The root's channel holds all of them, so no sender
// ever blocks (a ferrotp mailbox is unbounded).
func burstSpawn(burst uint64) time.Duration {
	return onRoot(func() time.Duration {
		start := time.Now()
		root := make(chan uint64, burst)
		for i := uint64(0); i < burst; i++ {
			go func(i uint64) { root <- i }(i)
		}
		var sum uint64
		for i := uint64(0); i < burst; i++ {
			sum += <-root
		}
		check(sum == burst*(burst-1)/2, "W1b sum")
		return time.Since(start)
	})
}

// ---------------------------------------------------------------- W2

// pingPong: a driver and a ponger exchange a counter, round trips times;
// the driver counts down to 0, which the ponger echoes and then exits (as
// in ferrotp_ping_pong). With lockThreads each of the two is locked to an
// OS thread of its own: Go cannot pin a goroutine to a P, so this is the
// nearest it has to the two processes on different workers.
func pingPong(roundTrips uint64, lockThreads bool) time.Duration {
	return onRoot(func() time.Duration {
		ping := make(chan uint64, 1)
		pong := make(chan uint64, 1)
		took := make(chan time.Duration, 1)
		// The driver, a process of its own like processes.rs's.
		go func() {
			if lockThreads {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			ready := make(chan struct{})
			go func() {
				if lockThreads {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
				}
				close(ready)
				for {
					n := <-ping
					pong <- n
					if n == 0 {
						return
					}
				}
			}()
			<-ready
			start := time.Now()
			for n := roundTrips; n > 0; n-- {
				ping <- n - 1
				<-pong
			}
			took <- time.Since(start)
		}()
		return <-took
	})
}

// ---------------------------------------------------------------- W3 / W12

// skynet: a node of size 1 sends its number to its parent; a larger one
// spawns 10 children over its range, sums their 10 answers and sends the
// sum up (ferrotp_skynet). Each node's channel holds its 10 answers.
func skynet(parent chan<- uint64, num, size uint64) {
	if size == 1 {
		parent <- num
		return
	}
	answers := make(chan uint64, 10)
	child := size / 10
	for i := uint64(0); i < 10; i++ {
		go skynet(answers, num+i*child, child)
	}
	var sum uint64
	for i := 0; i < 10; i++ {
		sum += <-answers
	}
	parent <- sum
}

func skynetRun(leaves uint64) time.Duration {
	return onRoot(func() time.Duration {
		start := time.Now()
		root := make(chan uint64, 1)
		go skynet(root, 0, leaves)
		check(<-root == leaves*(leaves-1)/2, "W3 sum")
		return time.Since(start)
	})
}

// ---------------------------------------------------------------- W5

// threadRing: ringSize goroutines in a ring; a member given token t > 0
// passes t-1 to the next, the one given 0 tells the root. Timed from the
// first send to the root's message, as in ferrotp_ring; the ring is
// stopped (its channels closed) after the clock stops.
func threadRing(hops uint64) time.Duration {
	return onRoot(func() time.Duration {
		done := make(chan struct{}, 1)
		members := make([]chan uint64, ringSize)
		for i := range members {
			members[i] = make(chan uint64, 1)
		}
		for i := range members {
			in, next := members[i], members[(i+1)%ringSize]
			go func() {
				for t := range in {
					if t == 0 {
						done <- struct{}{}
					} else {
						next <- t - 1
					}
				}
			}()
		}
		start := time.Now()
		members[0] <- hops
		<-done
		took := time.Since(start)
		for _, m := range members {
			close(m)
		}
		return took
	})
}

// ---------------------------------------------------------------- W6

// yields: yielders goroutines each call runtime.Gosched each times, then
// tell the root; timed from the first spawn to the last message, as in
// processes.rs's w6_yield.
func yields(each uint64) time.Duration {
	return onRoot(func() time.Duration {
		root := make(chan struct{}, yielders)
		start := time.Now()
		for p := 0; p < yielders; p++ {
			go func() {
				for i := uint64(0); i < each; i++ {
					runtime.Gosched()
				}
				root <- struct{}{}
			}()
		}
		for p := 0; p < yielders; p++ {
			<-root
		}
		return time.Since(start)
	})
}

// ---------------------------------------------------------------- harness

func check(ok bool, what string) {
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: wrong result\n", what)
		os.Exit(1)
	}
}

var (
	runs = flag.Int("runs", defaultRuns, "measured runs per workload (after one warm-up)")
	only = flag.String("only", "", "run only the workloads whose name contains this")
)

// measure runs once unmeasured, then *runs times, and returns each
// measured run's figure: its duration divided by ops, in unit (ns or ms).
func measure(ops uint64, unit string, run func() time.Duration) []float64 {
	runtime.GC()
	run()
	figures := make([]float64, 0, *runs)
	for i := 0; i < *runs; i++ {
		runtime.GC()
		took := run()
		per := float64(took.Nanoseconds()) / float64(ops)
		if unit == "ms" {
			per /= 1e6
		}
		figures = append(figures, per)
	}
	return figures
}

// measureAlternating measures a whole run (in ms) with procsA Ps and with
// procsB, alternating: a warm-up of each, then *runs of each.
func measureAlternating(procsA, procsB int, run func() time.Duration) (a, b []float64) {
	previous := runtime.GOMAXPROCS(procsA)
	defer runtime.GOMAXPROCS(previous)
	once := func(procs int) float64 {
		runtime.GOMAXPROCS(procs)
		runtime.GC()
		return float64(run().Nanoseconds()) / 1e6
	}
	once(procsA)
	once(procsB)
	for i := 0; i < *runs; i++ {
		a = append(a, once(procsA))
		b = append(b, once(procsB))
	}
	return a, b
}

func median(figures []float64) float64 {
	sorted := append([]float64(nil), figures...)
	sort.Float64s(sorted)
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func report(name, unit string, figures []float64) {
	sorted := append([]float64(nil), figures...)
	sort.Float64s(sorted)
	format := "%.1f"
	if unit == "ms" {
		format = "%.2f"
	}
	f := func(x float64) string { return fmt.Sprintf(format, x) }
	fmt.Printf("%-44s %10s %-9s (%s .. %s over %d runs)\n", name,
		f(median(figures)), unit, f(sorted[0]), f(sorted[len(sorted)-1]), len(figures))
}

// bench measures and reports one workload unless -only leaves it out;
// it returns the figures (nil when left out) and sets GOMAXPROCS for
// the workload's duration.
func bench(name string, procs int, ops uint64, unit string, run func() time.Duration) []float64 {
	if !strings.Contains(name, *only) {
		return nil
	}
	previous := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(previous)
	figures := measure(ops, unit, run)
	report(name, unit, figures)
	return figures
}

func main() {
	flag.Parse()
	if *runs < minRuns {
		fmt.Fprintf(os.Stderr, "note: %d runs; BENCHMARKS.md figures want at least %d\n",
			*runs, minRuns)
	}
	if runtime.NumCPU() < workers {
		fmt.Fprintf(os.Stderr, "note: %d CPU(s); the two-worker figures need 2\n", runtime.NumCPU())
	}
	fmt.Printf("# %s, GOMAXPROCS=%d (2 unless the workload says otherwise), %d CPUs, "+
		"1 warm-up + %d runs each\n", runtime.Version(), workers, runtime.NumCPU(), *runs)
	const two = workers

	bench("w1a_chained_spawn", two, chainLinks, "ns/link", func() time.Duration {
		return chainedSpawn(chainLinks)
	})
	for _, burst := range burstSizes {
		burst := burst
		bench(fmt.Sprintf("w1b_burst_spawn/%d", burst), two, burst, "ns/proc", func() time.Duration {
			return burstSpawn(burst)
		})
	}
	// W2: ferrotp's "same worker" pins both processes to one worker of two;
	// Go cannot, so one P (GOMAXPROCS=1) stands in for it.
	bench("w2_ping_pong/same_worker(GOMAXPROCS=1)", 1, pingPongTrips, "ns/trip", func() time.Duration {
		return pingPong(pingPongTrips, false)
	})
	bench("w2_ping_pong/default(GOMAXPROCS=2)", two, pingPongTrips, "ns/trip", func() time.Duration {
		return pingPong(pingPongTrips, false)
	})
	bench("w2_ping_pong/cross_worker(LockOSThread)", two, crossPingTrips, "ns/trip", func() time.Duration {
		return pingPong(crossPingTrips, true)
	})
	bench(fmt.Sprintf("w3_skynet/%d", skynetSmall), two, 1, "ms", func() time.Duration {
		return skynetRun(skynetSmall)
	})
	// W3 at 1,000,000 leaves is W12's two-worker half: measured once, in
	// W12's alternation below.
	bench("w5_thread_ring", two, ringHops, "ns/hop", func() time.Duration {
		return threadRing(ringHops)
	})
	bench("w6_yield", two, yielders*yieldsEach, "ns/yield", func() time.Duration {
		return yields(yieldsEach)
	})
	// W12: W3 (1,000,000 leaves) with one P and with two, the runs
	// alternating so that a change in the machine's load falls on both.
	w3Name := fmt.Sprintf("w3_skynet/%d", skynetLeaves)
	w12Names := w3Name + " w12_skynet_scaling/workers1 w12_skynet_scaling/workers2 w12_skynet_scaling/speedup"
	if strings.Contains(w12Names, *only) {
		one, both := measureAlternating(1, two, func() time.Duration {
			return skynetRun(skynetLeaves)
		})
		report(w3Name, "ms", both)
		report("w12_skynet_scaling/workers1", "ms", one)
		report("w12_skynet_scaling/workers2", "ms", both)
		fmt.Printf("%-44s %10.2f %-9s (median 1 worker / median 2 workers)\n",
			"w12_skynet_scaling/speedup", median(one)/median(both), "x")
	}
}
