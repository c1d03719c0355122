package faults

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// StateFile is the file name under the state directory.
const StateFile = "faults.json"

// State is what survives a restart: active faults (to reconcile) and recent history.
type State struct {
	Active  []Fault `json:"active"`
	History []Fault `json:"history"`
}

// Store persists the state.
type Store interface {
	Load() (State, error)
	Save(State) error
	// Persistent is false for the in-memory fallback; Where describes the location.
	Persistent() bool
	Where() string
}

// MemoryStore keeps state for the life of the process only.
type MemoryStore struct {
	mu sync.Mutex
	s  State
}

func (m *MemoryStore) Load() (State, error) { m.mu.Lock(); defer m.mu.Unlock(); return m.s, nil }
func (m *MemoryStore) Save(s State) error   { m.mu.Lock(); defer m.mu.Unlock(); m.s = s; return nil }
func (m *MemoryStore) Persistent() bool     { return false }
func (m *MemoryStore) Where() string        { return "memory" }

// FileStore writes the state as JSON, atomically (temp file + rename).
type FileStore struct {
	path string
}

// OpenFileStore makes dir if needed and proves it is writable.
func OpenFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("state dir %s is not writable: %w", dir, err)
	}
	name := probe.Name()
	_ = probe.Close()
	_ = os.Remove(name)
	return &FileStore{path: filepath.Join(dir, StateFile)}, nil
}

func (f *FileStore) Persistent() bool { return true }
func (f *FileStore) Where() string    { return f.path }

// Load returns an empty state when the file does not exist yet.
func (f *FileStore) Load() (State, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("state file %s is corrupt: %w", f.path, err)
	}
	return s, nil
}

func (f *FileStore) Save(s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".faults-*.json")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(append(b, '\n'))
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), f.path)
}
