package hdf5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Filter identifiers.
const (
	filterDeflate    = 1
	filterShuffle    = 2
	filterFletcher32 = 3
)

// filter is one stage of a dataset's filter pipeline.
type filter struct {
	id       uint16
	optional bool
	params   []uint32
}

// parseFilters decodes a filter pipeline message (versions 1 and 2).
func parseFilters(b []byte) ([]filter, error) {
	r := &reader{b: b}
	version := r.u8()
	n := int(r.u8())
	if version == 1 {
		r.skip(6)
	} else if version != 2 && r.err == nil {
		return nil, fmt.Errorf("filter pipeline version %d is not supported", version)
	}
	if n > 32 {
		return nil, fmt.Errorf("filter pipeline has %d filters (max 32)", n)
	}
	var fs []filter
	for range n {
		var f filter
		f.id = r.u16()
		nameLen := 0
		if version == 1 || f.id >= 256 {
			nameLen = int(r.u16())
		}
		flags := r.u16()
		f.optional = flags&1 != 0
		nparams := int(r.u16())
		if version == 1 {
			nameLen = (nameLen + 7) &^ 7
		}
		r.skip(nameLen)
		for range nparams {
			f.params = append(f.params, r.u32())
			if r.err != nil {
				break
			}
		}
		if version == 1 && nparams%2 == 1 {
			r.skip(4)
		}
		if r.err != nil {
			return nil, errTruncated("filter pipeline message")
		}
		switch f.id {
		case filterDeflate, filterShuffle, filterFletcher32:
		default:
			return nil, fmt.Errorf("filter %d (%s) is not supported; only gzip, shuffle and fletcher32 are",
				f.id, filterName(f.id))
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func filterName(id uint16) string {
	switch id {
	case 4:
		return "szip"
	case 5:
		return "nbit"
	case 6:
		return "scaleoffset"
	case 32000:
		return "lzf"
	case 32001:
		return "blosc"
	}
	return "unknown"
}

// applyFilters undoes the pipeline on one stored chunk, last filter first.
// want is the decoded chunk size, used to cap decompression.
func applyFilters(z *inflater, fs []filter, mask uint32, data []byte, want uint64, esize int) ([]byte, error) {
	for i := len(fs) - 1; i >= 0; i-- {
		if mask&(1<<uint(i)) != 0 {
			continue // this filter was skipped when the chunk was written
		}
		var err error
		switch f := fs[i]; f.id {
		case filterDeflate:
			data, err = z.inflate(data, want+4)
		case filterShuffle:
			size := esize
			if len(f.params) > 0 {
				size = int(f.params[0])
			}
			data = unshuffle(data, size)
		case filterFletcher32:
			data, err = checkFletcher32(data)
		}
		if err != nil {
			return nil, err
		}
	}
	return data, nil
}

// inflater decompresses zlib streams, reusing one decoder (and its 32 KiB
// window) across the chunks of a dataset.
type inflater struct{ zr io.ReadCloser }

// inflate decompresses zlib data, refusing more than max bytes.
func (z *inflater) inflate(data []byte, max uint64) ([]byte, error) {
	var err error
	if z.zr == nil {
		z.zr, err = zlib.NewReader(bytes.NewReader(data))
	} else {
		err = z.zr.(zlib.Resetter).Reset(bytes.NewReader(data), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("gzip filter: %w", err)
	}
	var out bytes.Buffer
	// Deflate expands at most ~1032:1, so this presizes without trusting max.
	out.Grow(int(min(max, uint64(len(data))*1032+64)))
	n, err := io.Copy(&out, io.LimitReader(z.zr, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("gzip filter: %w", err)
	}
	if uint64(n) > max {
		return nil, fmt.Errorf("gzip filter: chunk inflates to more than %d bytes", max)
	}
	return out.Bytes(), nil
}

// unshuffle reverses the shuffle filter: byte j of element i was stored at
// j*n + i; trailing bytes that do not fill an element are left in place.
func unshuffle(data []byte, size int) []byte {
	if size <= 1 || len(data) < size {
		return data
	}
	n := len(data) / size
	out := make([]byte, len(data))
	for j := 0; j < size; j++ {
		src := data[j*n : (j+1)*n]
		for i, b := range src {
			out[i*size+j] = b
		}
	}
	copy(out[n*size:], data[n*size:])
	return out
}

// checkFletcher32 verifies and strips the trailing checksum. HDF5 before
// 1.6.3 stored the checksum byte-swapped, so both forms are accepted.
func checkFletcher32(data []byte) ([]byte, error) {
	if len(data) < 4 {
		return nil, errors.New("fletcher32 filter: chunk shorter than its checksum")
	}
	body, sum := data[:len(data)-4], data[len(data)-4:]
	stored := binary.LittleEndian.Uint32(sum)
	got := fletcher32(body)
	swapped := got>>8&0x00ff00ff | got<<8&0xff00ff00
	if stored != got && stored != swapped {
		return nil, fmt.Errorf("fletcher32 checksum mismatch (stored %#08x, computed %#08x): data corrupt", stored, got)
	}
	return body, nil
}

// fletcher32 is HDF5's Fletcher checksum over big-endian 16-bit words, an
// odd final byte counting as the high byte of a word.
func fletcher32(b []byte) uint32 {
	var s1, s2 uint32
	for len(b) >= 2 {
		// 360 words keep the 32-bit sums from overflowing between folds.
		n := min(len(b)/2, 360)
		for i := 0; i < n; i++ {
			s1 += uint32(b[2*i])<<8 | uint32(b[2*i+1])
			s2 += s1
		}
		b = b[2*n:]
		s1 = s1&0xffff + s1>>16
		s2 = s2&0xffff + s2>>16
	}
	if len(b) == 1 {
		s1 += uint32(b[0]) << 8
		s2 += s1
		s1 = s1&0xffff + s1>>16
		s2 = s2&0xffff + s2>>16
	}
	s1 = s1&0xffff + s1>>16
	s2 = s2&0xffff + s2>>16
	return s2<<16 | s1
}
