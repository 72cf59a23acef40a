package media

import "testing"

func TestThumbSize(t *testing.T) {
	if w, h := ThumbSize(1920, 1080, 320); w != 320 || h != 180 {
		t.Fatalf("got %dx%d", w, h)
	}
}
