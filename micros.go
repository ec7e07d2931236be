package tack

import "time"

// Micros converts t to microseconds since the epoch, the zero time to 0:
// how the stores keep times, and the unit of QueueKey.Created.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// TimeOfMicros converts microseconds since the epoch back to a UTC time,
// 0 to the zero time.
func TimeOfMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// CeilMicros converts t to microseconds since the epoch rounded up, as
// the stores compare a filter's Before with a request's created time: a
// request created at 1µs is before 1.5µs.
func CeilMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if t.After(time.UnixMicro(us)) {
		us++
	}
	return us
}
