module github.com/dqnn/dqnn

go 1.26
