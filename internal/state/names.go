package state

// MaxFileName is the longest file name, in bytes, that the Dir store can
// create: NAME_MAX of Linux file systems (ext4, xfs, btrfs, tmpfs, overlay)
// and of most others.
const MaxFileName = 255

// asideTimeLayout is the time in the name of a file set aside; it is of
// fixed width, so every key's longest name is known in advance.
const asideTimeLayout = "20060102T150405.000000000Z"

// FileNameLen returns the length in bytes of the longest file name the Dir
// store gives key: that of its file once set aside,
// <encoded key>.state.corrupt-<time>, where every byte of the key outside
// [A-Za-z0-9_-] takes 3 bytes (%XX). The Dir store can keep key when
// FileNameLen(key) <= MaxFileName; the Kafka and Mem stores have no such
// limit. Configuration checks use it to reject names early (package sla).
func FileNameLen(key string) int {
	return len(encodeKey(key)) + len(fileSuffix) + len(asideInfix) + len(asideTimeLayout)
}
