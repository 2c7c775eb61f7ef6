package state

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestMem(t *testing.T) {
	ctx := context.Background()
	s := NewMem()
	v := []byte("a")
	if err := s.Put(ctx, "x/1", v); err != nil {
		t.Fatal(err)
	}
	v[0] = 'z' // the store keeps its own copy
	if err := s.PutMany(ctx, map[string][]byte{"x/2": []byte("b"), "y": []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := s.Get(ctx, "x/1"); !ok || string(got) != "a" {
		t.Errorf("Get x/1 = %q, %v", got, ok)
	}
	if keys, _ := s.Keys(ctx, "x/"); !slices.Equal(keys, []string{"x/1", "x/2"}) {
		t.Errorf("Keys(x/) = %v", keys)
	}
	if err := s.SetAside(ctx, "y", "unreadable"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "y"); ok {
		t.Error("y still there after SetAside")
	}
	if got, ok, _ := s.Get(ctx, "y.corrupt"); !ok || string(got) != "c" {
		t.Errorf("y.corrupt = %q, %v", got, ok)
	}
	if err := s.Delete(ctx, "x/1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "x/1"); ok {
		t.Error("x/1 still there after Delete")
	}
	if err := s.Put(ctx, "", nil); err == nil {
		t.Error("Put with an empty key: no error")
	}
	// Like the other stores, Mem rejects invalid keys everywhere.
	if _, _, err := s.Get(ctx, ""); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Get with an empty key: %v, want ErrInvalidKey", err)
	}
	if err := s.Delete(ctx, "a\x00b"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Delete with a NUL in the key: %v, want ErrInvalidKey", err)
	}
	if err := s.SetAside(ctx, "", "test"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("SetAside with an empty key: %v, want ErrInvalidKey", err)
	}
}
