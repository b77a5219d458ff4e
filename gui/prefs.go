package gui

import (
	"sync"

	"fyne.io/fyne/v2"
)

// memPrefs is a preferences store held in memory only: demo mode uses it,
// so that a demo never changes the user's settings.
type memPrefs struct {
	mu        sync.Mutex
	v         map[string]any
	listeners []func()
}

var _ fyne.Preferences = (*memPrefs)(nil)

func newMemPrefs() *memPrefs { return &memPrefs{v: map[string]any{}} }

func memGet[T any](p *memPrefs, key string, fallback T) T {
	p.mu.Lock()
	defer p.mu.Unlock()
	if x, ok := p.v[key].(T); ok {
		return x
	}
	return fallback
}

func memSet(p *memPrefs, key string, value any) {
	p.mu.Lock()
	p.v[key] = value
	ls := append([]func(){}, p.listeners...)
	p.mu.Unlock()
	for _, l := range ls {
		l()
	}
}

func (p *memPrefs) Bool(k string) bool                     { return memGet(p, k, false) }
func (p *memPrefs) BoolWithFallback(k string, f bool) bool { return memGet(p, k, f) }
func (p *memPrefs) SetBool(k string, v bool)               { memSet(p, k, v) }
func (p *memPrefs) BoolList(k string) []bool               { return memGet[[]bool](p, k, nil) }
func (p *memPrefs) BoolListWithFallback(k string, f []bool) []bool {
	return memGet(p, k, f)
}
func (p *memPrefs) SetBoolList(k string, v []bool)                { memSet(p, k, v) }
func (p *memPrefs) Float(k string) float64                        { return memGet(p, k, 0.0) }
func (p *memPrefs) FloatWithFallback(k string, f float64) float64 { return memGet(p, k, f) }
func (p *memPrefs) SetFloat(k string, v float64)                  { memSet(p, k, v) }
func (p *memPrefs) FloatList(k string) []float64                  { return memGet[[]float64](p, k, nil) }
func (p *memPrefs) FloatListWithFallback(k string, f []float64) []float64 {
	return memGet(p, k, f)
}
func (p *memPrefs) SetFloatList(k string, v []float64)  { memSet(p, k, v) }
func (p *memPrefs) Int(k string) int                    { return memGet(p, k, 0) }
func (p *memPrefs) IntWithFallback(k string, f int) int { return memGet(p, k, f) }
func (p *memPrefs) SetInt(k string, v int)              { memSet(p, k, v) }
func (p *memPrefs) IntList(k string) []int              { return memGet[[]int](p, k, nil) }
func (p *memPrefs) IntListWithFallback(k string, f []int) []int {
	return memGet(p, k, f)
}
func (p *memPrefs) SetIntList(k string, v []int)          { memSet(p, k, v) }
func (p *memPrefs) String(k string) string                { return memGet(p, k, "") }
func (p *memPrefs) StringWithFallback(k, f string) string { return memGet(p, k, f) }
func (p *memPrefs) SetString(k string, v string)          { memSet(p, k, v) }
func (p *memPrefs) StringList(k string) []string          { return memGet[[]string](p, k, nil) }
func (p *memPrefs) StringListWithFallback(k string, f []string) []string {
	return memGet(p, k, f)
}
func (p *memPrefs) SetStringList(k string, v []string) { memSet(p, k, v) }

func (p *memPrefs) RemoveValue(k string) {
	p.mu.Lock()
	delete(p.v, k)
	p.mu.Unlock()
}

func (p *memPrefs) AddChangeListener(f func()) {
	p.mu.Lock()
	p.listeners = append(p.listeners, f)
	p.mu.Unlock()
}

func (p *memPrefs) ChangeListeners() []func() {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]func(){}, p.listeners...)
}
