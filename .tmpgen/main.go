package main

import (
	"fmt"
	"os"

	"github.com/indexer/indexer/bench/corpus"
)

func main() {
	s, err := corpus.Generate("/tmp/cold-corpus/small", corpus.Small(100000))
	fmt.Println(s, err)
	l, err := corpus.Generate("/tmp/cold-corpus/large", corpus.Large(24))
	fmt.Println(l, err)
	if err != nil {
		os.Exit(1)
	}
}
