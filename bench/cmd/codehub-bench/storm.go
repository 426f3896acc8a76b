package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Storm is a signed-in user's request latency on one codehub target while a sign-in storm
// (1,000 concurrent wrong passwords, half for a real user, half for unknown names) hits
// the same gateway: what issue #12 asks of the throttle and the bound on password hashing.
type Storm struct {
	Target   string      `json:"target"`
	Attempts int         `json:"attempts"`
	Statuses map[int]int `json:"statuses"` // of the bad sign-ins
	StormS   float64     `json:"storm_s"`  // until every bad sign-in was answered
	Quiet    Latencies   `json:"quiet"`
	During   Latencies   `json:"during"`
}

// Latencies of sequential signed-in GETs of the small response.
type Latencies struct {
	N      int     `json:"n"`
	Errors int     `json:"errors"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

const (
	stormAttempts   = 1000
	stormQuietReqs  = 200
	stormMaxReqs    = 5000
	stormMaxSeconds = 120
)

func measureStorm(ctx context.Context, t *Target, cookie string) Storm {
	s := Storm{Target: t.Name, Attempts: stormAttempts, Statuses: map[int]int{}}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirect,
		Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func() (time.Duration, bool) {
		req, _ := http.NewRequestWithContext(ctx, "GET", t.Base+"/small", nil)
		req.Header.Set("Cookie", cookie)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return time.Since(start), false
		}
		resp.Body.Close()
		return time.Since(start), resp.StatusCode == 200
	}
	var quiet []time.Duration
	for i := 0; i < stormQuietReqs && ctx.Err() == nil; i++ {
		d, ok := get()
		if !ok {
			s.Quiet.Errors++
		}
		quiet = append(quiet, d)
	}
	s.Quiet = latencies(quiet, s.Quiet.Errors)

	stormClient := &http.Client{Timeout: stormMaxSeconds * time.Second, CheckRedirect: noRedirect,
		Transport: &http.Transport{MaxIdleConnsPerHost: stormAttempts, MaxConnsPerHost: stormAttempts}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := make(chan struct{})
	start := time.Now()
	for i := 0; i < stormAttempts; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := "bench"
			if i%2 == 1 {
				user = fmt.Sprintf("nobody-%d", i)
			}
			form := url.Values{"username": {user}, "password": {fmt.Sprintf("wrong-%d", i)}, "next": {"/"}}.Encode()
			req, _ := http.NewRequestWithContext(ctx, "POST", t.Base+"/_codehub/login", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			code := 0
			if resp, err := stormClient.Do(req); err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			s.Statuses[code]++
			mu.Unlock()
		}()
	}
	go func() { wg.Wait(); close(done) }()
	var during []time.Duration
	errors := 0
	deadline := time.After(stormMaxSeconds * time.Second)
loop:
	for len(during) < stormMaxReqs {
		select {
		case <-done:
			break loop
		case <-deadline:
			break loop
		default:
		}
		d, ok := get()
		if !ok {
			errors++
		}
		during = append(during, d)
	}
	<-done
	s.StormS = time.Since(start).Seconds()
	s.During = latencies(during, errors)
	progress("sign-in storm %-18s %d bad sign-ins in %.1fs %v | signed-in GET p50 %.2fms p99 %.2fms (quiet %.2f/%.2f), %d errors of %d",
		t.Name, stormAttempts, s.StormS, s.Statuses, s.During.P50ms, s.During.P99ms, s.Quiet.P50ms, s.Quiet.P99ms, errors, len(during))
	return s
}

func latencies(ds []time.Duration, errors int) Latencies {
	l := Latencies{N: len(ds), Errors: errors}
	if len(ds) == 0 {
		return l
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	l.P50ms, l.P99ms, l.MaxMs = ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100]), ms(ds[len(ds)-1])
	return l
}
