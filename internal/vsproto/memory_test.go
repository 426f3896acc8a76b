package vsproto

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkFollowerMemory reports the heap one connection's follower keeps between
// messages (B/conn) after a workbench-like compressed client stream: what an open,
// quiet workbench connection costs the gateway. Nothing asserts on it (docs/benchmarks.md).
func BenchmarkFollowerMemory(b *testing.B) {
	for _, compressed := range []bool{false, true} {
		b.Run(fmt.Sprintf("compressed=%v", compressed), func(b *testing.B) {
			var z deflater
			var stream []byte
			for i := 0; i < 400; i++ { // ~40 KiB of messages: the window fills
				m := protoMsg(TypeRegular, uint32(i), rpcRequest("$acceptModelChanged", fmt.Sprintf(`[{"changes":[{"range":{"startLineNumber":%d},"text":"x"}],"versionId":%d}]`, i, i)))
				if compressed {
					m = z.message(m)
				}
				stream = append(stream, wsFrames(m, frameOpts{masked: true, compressed: compressed})...)
			}
			const conns = 200
			var perConn float64
			for b.Loop() {
				held := make([]*Conn, conns)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := range held {
					held[i] = NewConn(func(Direction, ConnType, Message) {})
					if err := held[i].Feed(ClientToServer, stream); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perConn = float64(after.HeapAlloc-before.HeapAlloc) / conns
				runtime.KeepAlive(held)
			}
			b.ReportMetric(perConn, "B/conn")
		})
	}
}
