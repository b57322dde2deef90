package tfckpt

import "hash/crc32"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskDelta is LevelDB's (and TensorFlow's) crc32c mask constant: stored
// checksums are masked so that a checksum of data holding checksums stays
// well distributed.
const maskDelta = 0xa282ead8

func mask(c uint32) uint32 { return (c>>15 | c<<17) + maskDelta }

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func crc32cExtend(c uint32, b []byte) uint32 { return crc32.Update(c, castagnoli, b) }
