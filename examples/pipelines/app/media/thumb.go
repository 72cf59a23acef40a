package media

// ThumbSize scales width x height to fit in a box of max pixels, keeping the aspect ratio.
func ThumbSize(width, height, max int) (int, int) {
	if width <= max && height <= max {
		return width, height
	}
	if width >= height {
		return max, height * max / width
	}
	return width * max / height, max
}
