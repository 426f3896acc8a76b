package main

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// writeCharts draws proxy CPU per request and RSS per idle WebSocket, one bar per target.
func writeCharts(dir string, ss []Summary, steps []int) error {
	var names []string
	var cpu plotter.Values
	for _, s := range ss {
		if s.Name == "direct" {
			continue
		}
		names = append(names, s.Name)
		cpu = append(cpu, s.CPUus)
	}
	if err := barChart(filepath.Join(dir, "cpu_per_request.png"), "Proxy CPU time per request (small response)", "µs of CPU per request (lower is better)", names, cpu); err != nil {
		return err
	}
	if len(steps) == 0 {
		return nil
	}
	n := steps[len(steps)-1]
	var wsNames []string
	var kib plotter.Values
	for _, s := range ss {
		if s.Idle == nil {
			continue
		}
		v, ok := s.Idle.PerConn[n]
		if !ok {
			continue
		}
		wsNames = append(wsNames, s.Name)
		kib = append(kib, max(v, 0))
	}
	if len(kib) == 0 {
		return nil
	}
	return barChart(filepath.Join(dir, "ws_kib_per_conn.png"), fmt.Sprintf("Proxy RSS per idle WebSocket (%d open)", n), "KiB per connection (lower is better)", wsNames, kib)
}

func barChart(path, title, xlabel string, names []string, vals plotter.Values) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	bars, err := plotter.NewBarChart(vals, vg.Points(14))
	if err != nil {
		return err
	}
	bars.Horizontal = true
	bars.Color = color.RGBA{R: 90, G: 110, B: 140, A: 255}
	p.Add(plotter.NewGrid(), bars)
	// Value labels at the end of each bar.
	xys := make(plotter.XYs, len(vals))
	labels := make([]string, len(vals))
	top := 0.0
	for i, v := range vals {
		xys[i] = plotter.XY{X: v, Y: float64(i)}
		labels[i] = fmt.Sprintf(" %.1f", v)
		top = max(top, v)
	}
	if l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels}); err == nil {
		p.Add(l)
	}
	p.NominalY(names...)
	p.X.Min = 0
	p.X.Max = top * 1.2
	return p.Save(7*vg.Inch, vg.Length(len(names))*0.4*vg.Inch+1.2*vg.Inch, path)
}
